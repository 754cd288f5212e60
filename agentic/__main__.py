from agentic.cli.main import main

main()
