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
# MLflow writes the virtualenv's pip and setuptools versions into every model's
# python_env.yaml and conda.yaml, so the demo world's bytes (and fixtures/demo_world.json)
# depend on them. setuptools: the one Python 3.11's ensurepip seeds a venv with.
pip_version=26.3
setuptools_version=65.5.0
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

# Without ensurepip: seeding pip into a new venv takes 4-5 s, and uv installs pip below.
if [ ! -x "$venv/bin/python" ]; then
  $step "creating $venv" "$python" -m venv --without-pip "$venv"
fi

# A pip for the venv, as the positional parameters: its own when it has one; else the
# machine's, pointed at the venv; else ensurepip's (a Python without pip).
if [ -x "$venv/bin/pip" ]; then
  set -- "$venv/bin/pip"
elif "$python" -m pip --version >/dev/null 2>&1; then
  set -- "$python" -m pip --python "$venv/bin/python"
else
  "$venv/bin/python" -m ensurepip --upgrade >/dev/null
  set -- "$venv/bin/pip"
fi

if [ "$installer" = uv ]; then
  uv_version=$(sed -n 's/^uv==//p' constraints.txt)
  if [ "$("$venv/bin/uv" --version 2>/dev/null | cut -d' ' -f2)" != "$uv_version" ]; then
    if ! $step "installing uv $uv_version (pip)" "$@" --disable-pip-version-check \
        install -c constraints.txt "uv==$uv_version"; then
      echo "no uv for this machine: installing with pip instead (slower)"
      installer=pip
    fi
  fi
fi

# No --compile-bytecode: compiling all of site-packages (scipy, pandas, mlflow ...) took
# 15-30 s of a first `make run`, most of it for modules no process imports. The Makefile
# lets Python keep the bytecode it compiles at first import instead (it unsets
# PYTHONDONTWRITEBYTECODE), which costs 5-7 s once, spread over the first processes.
if [ "$installer" = uv ]; then
  $step "installing the $extra dependencies (uv)" "$venv/bin/uv" pip install \
    --python "$venv/bin/python" -c constraints.txt "pip==$pip_version" \
    "setuptools==$setuptools_version" -e ".[$extra]"
else
  if [ "$("$@" --version 2>/dev/null | cut -d' ' -f2)" != "$pip_version" ]; then
    $step "installing pip $pip_version" "$@" --disable-pip-version-check install \
      "pip==$pip_version" "setuptools==$setuptools_version"
  fi
  $step "installing the $extra dependencies (pip)" "$venv/bin/pip" install \
    --disable-pip-version-check -c constraints.txt -e ".[$extra]"
fi

for name in $covered; do
  echo "$digest" >"$venv/.installed-$name"
done
