from productpilot.cli import main

main()
