"""The import-linter contracts (.importlinter) keep services apart and the common package free of
any service. The second test builds a violating tree, so this check is known to be able to fail."""
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LINT = str(Path(sys.executable).with_name("lint-imports"))


def test_services_never_import_each_other_and_common_imports_no_service():
    result = subprocess.run([LINT, "--config", str(ROOT / ".importlinter")], cwd=ROOT,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 kept, 0 broken" in result.stdout


def test_the_contract_catches_a_service_importing_another(tmp_path):
    for package, body in {"vitawin_actors": "import vitawin_requests.api\n",
                          "vitawin_requests": "", "vitawin_common": ""}.items():
        (tmp_path / package).mkdir()
        (tmp_path / package / "__init__.py").write_text(body)
        (tmp_path / package / "api.py").write_text("")
    config = tmp_path / "contracts.ini"
    config.write_text(textwrap.dedent("""\
        [importlinter]
        root_packages =
            vitawin_common
            vitawin_actors
            vitawin_requests
        [importlinter:contract:independent-services]
        name = Services never import each other
        type = independence
        modules =
            vitawin_actors
            vitawin_requests
        """))
    result = subprocess.run([LINT, "--config", str(config), "--no-cache"], cwd=tmp_path,
                            capture_output=True, text=True, env={"PYTHONPATH": str(tmp_path), "PATH": ""})
    assert result.returncode != 0
    assert "vitawin_actors -> vitawin_requests" in result.stdout
