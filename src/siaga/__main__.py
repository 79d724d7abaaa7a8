from siaga.cli.main import run

run()
