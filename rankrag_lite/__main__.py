from rankrag_lite.cli import main

main()
