from synthts_core.cli import main

main()
