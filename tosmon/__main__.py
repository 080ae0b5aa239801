from tosmon.cli import main

main()
