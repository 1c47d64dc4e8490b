# Sourced by scripts/run and scripts/test: make (once) and use the project's own venv.
# Stock Debian refuses `pip install` into the system Python (PEP 668), so everything goes into
# ./.venv. Needs python3 >= 3.11 with the venv module (Debian: apt-get install python3-venv).
VENV="${TOCSIN_VENV:-$PWD/.venv}"
if [ ! -x "$VENV/bin/python" ]; then
  if ! python3 -m venv "$VENV" >/dev/null 2>&1; then
    rm -rf "$VENV"
    echo "error: cannot create a venv at $VENV; on Debian: sudo apt-get install python3-venv" >&2
    exit 2
  fi
fi
export PATH="$VENV/bin:$PATH"
