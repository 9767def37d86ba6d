import pathlib
import sys

# make tests/fixture_utils.py importable from every test folder
sys.path.insert(0, str(pathlib.Path(__file__).parent))
