"""pytest options for the cocotb tests: `--full` runs the whole configuration matrix
(make test-full, make sim-full); without it a representative set runs (make test)."""


def pytest_addoption(parser):
    parser.addoption("--full", action="store_true", default=False,
                     help="sim/: run every cell x scheme x parallel x simulator configuration")


def pytest_generate_tests(metafunc):
    if "config" in metafunc.fixturenames:
        from sim.matrix import configs

        chosen = configs(full=metafunc.config.getoption("full"))
        metafunc.parametrize("config", chosen, ids=[c.id for c in chosen])
