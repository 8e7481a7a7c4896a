from torchplay.cli import main

main()
