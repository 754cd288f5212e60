from agentic.cli import main

main()
