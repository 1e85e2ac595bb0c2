"""`reflex export --frontend-only`: a static site with the backend's URL baked in, as it is
deployed to S3 + CloudFront."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile

from swan.local.webapp import REPOSITORY, reflex_environment

API_URL = "https://swan-backend.invalid:8443"


def test_the_exported_frontend_talks_to_the_backend_it_was_built_for(tmp_path, reflex_dir):
    dist = tmp_path / "dist"
    dist.mkdir()
    env = {**reflex_environment(os.environ, reflex_dir), "REFLEX_API_URL": API_URL}
    exported = subprocess.run(
        [sys.executable, "-m", "reflex", "export", "--frontend-only", "--zip-dest-dir", str(dist)],
        cwd=REPOSITORY,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert exported.returncode == 0, exported.stdout + exported.stderr
    with zipfile.ZipFile(dist / "frontend.zip") as site:
        names = site.namelist()
        assert "index.html" in names
        settings = [name for name in names if "reflex-env" in name and name.endswith(".js")]
        assert settings, names
        assert f"{API_URL.replace('https', 'wss')}/_event" in site.read(settings[0]).decode()
        assert "The Swan" in site.read("index.html").decode()
