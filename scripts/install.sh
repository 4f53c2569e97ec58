#!/bin/sh
# Install the project and one extra into the virtualenv, through uv (pip if asked).
# Usage: install.sh EXTRA   (demo, test or bench; each includes the ones before it,
# as pyproject.toml's extras do). Environment: PYTHON (python3), VENV (.venv),
# INSTALLER (uv or pip; default uv).
#
# uv installs the same constraints.txt in a tenth of pip's time. It comes from PyPI
# like everything else, pinned in constraints.txt, installed by the virtualenv's own
# pip: a machine needs only Python. A stamp per extra holds a digest of pyproject.toml,
# constraints.txt and this script, so an unchanged dependency list is not installed again (after
# `make test`, `make run` installs nothing) and a changed one is.
set -eu
# MLflow writes the virtualenv's pip version into every model's python_env.yaml and
# conda.yaml, so the demo world's bytes (and fixtures/demo_world.json) depend on it.
pip_version=26.3
extra=$1
python=${PYTHON:-python3}
venv=${VENV:-.venv}
installer=${INSTALLER:-uv}
step="sh scripts/step.sh"

case $extra in
  demo) covered="demo" ;;
  test) covered="test demo" ;;
  bench) covered="bench test demo" ;;
  *) echo "install.sh: unknown extra '$extra' (demo, test or bench)" >&2; exit 2 ;;
esac

# This script is in the digest too: a change to how the venv is made reinstalls it.
digest=$(cat pyproject.toml constraints.txt scripts/install.sh | sha256sum | cut -d' ' -f1)
if [ "$(cat "$venv/.installed-$extra" 2>/dev/null)" = "$digest" ]; then
  exit 0
fi

if [ ! -x "$venv/bin/python" ]; then
  $step "creating $venv" "$python" -m venv "$venv"
fi
if [ "$("$venv/bin/pip" --version | cut -d' ' -f2)" != "$pip_version" ]; then
  $step "installing pip $pip_version" "$venv/bin/pip" install --disable-pip-version-check \
    "pip==$pip_version"
fi

if [ "$installer" = uv ]; then
  uv_version=$(sed -n 's/^uv==//p' constraints.txt)
  if [ "$("$venv/bin/uv" --version 2>/dev/null | cut -d' ' -f2)" != "$uv_version" ]; then
    if ! $step "installing uv $uv_version (pip)" "$venv/bin/pip" install \
        --disable-pip-version-check -c constraints.txt "uv==$uv_version"; then
      echo "no uv for this machine: installing with pip instead (slower)"
      installer=pip
    fi
  fi
fi

if [ "$installer" = uv ]; then
  # Compiled at install, as pip does: uv leaves it to the first import otherwise, and
  # where PYTHONDONTWRITEBYTECODE is set every process (the sync, each gunicorn worker,
  # each test subprocess) would compile mlflow and Django again (a second `make run`:
  # 26 s without, 11 s with).
  $step "installing the $extra dependencies (uv)" "$venv/bin/uv" pip install \
    --python "$venv/bin/python" --compile-bytecode -c constraints.txt -e ".[$extra]"
else
  $step "installing the $extra dependencies (pip)" "$venv/bin/pip" install \
    --disable-pip-version-check -c constraints.txt -e ".[$extra]"
fi

for name in $covered; do
  echo "$digest" >"$venv/.installed-$name"
done
