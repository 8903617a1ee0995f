from ropeguard.cli import run

run()
