"""Services: the only callers of plugin hooks and registries on behalf of front ends."""
