from xcompose.cli import main

main()
