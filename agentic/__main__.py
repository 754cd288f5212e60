from agentic.cli.app import main

main()
