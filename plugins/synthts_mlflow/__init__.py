"""synthts built-in plugin: mlflow."""
