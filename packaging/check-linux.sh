#!/usr/bin/env bash
# Check the Linux package end to end, as a user would meet it (run on demand, not in CI; as root
# on a Debian/Ubuntu machine or container you do not mind installing into):
#   1. build the .deb (packaging/build-linux.sh), look inside it;
#   2. dpkg -i it;
#   3. the installed `returnscope` reports the Cargo.toml version, makes a sample extract and runs
#      the pipeline on it up to the features;
#   4. the installed desktop entry validates, is registered for text/csv ("Open with
#      ReturnScope"), and the icons are in the hicolor theme;
#   5. the AppStream metadata validates (when appstreamcli is there);
#   6. with --gui: opens the sample CSV through the installed desktop entry (`gio launch`, as a
#      double-click does) under Xvfb, checks a ReturnScope window appears and saves a screenshot
#      (installs xvfb, mesa and friends with apt on first use);
#   7. dpkg -r removes it all (keep it with --keep).
#
#   packaging/check-linux.sh --binary PATH     # package this binary (no release build)
#   packaging/check-linux.sh --deb FILE        # check an existing .deb
#   ... --csv FILE                             # run the pipeline on this CSV instead of a sample
#   packaging/check-linux.sh                   # cargo build --release first (~50 min the first time)
#   ... --gui [--shot FILE.png]                # also the desktop check (default shot: /tmp/returnscope-gui.png)
#
# Takes 1-2 minutes with --binary or --deb on 2 busy cores (most of it xz-compressing the binary
# into the .deb), up to 40 s more with --gui, plus the apt installs the first time.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/.." && pwd)"
started=$SECONDS

deb=""
csv=""
keep=0
gui=0
shot=/tmp/returnscope-gui.png
build_args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --deb) deb="${2:?--deb needs a file}"; shift 2 ;;
    --binary) build_args+=(--binary "${2:?--binary needs a path}"); shift 2 ;;
    --csv) csv="$(realpath "${2:?--csv needs a file}")"; shift 2 ;;
    --keep) keep=1; shift ;;
    --gui) gui=1; shift ;;
    --shot) shot="${2:?--shot needs a file}"; shift 2 ;;
    -h|--help) sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "unknown option: $1 (see --help)" >&2; exit 64 ;;
  esac
done

step() { printf '\n==> %s\n' "$*"; }
fail() { echo "FAIL: $*" >&2; exit 1; }
pass() { echo "ok: $*"; }

[ "$(id -u)" = 0 ] || fail "run as root (it installs the package)"
version="$(awk -F'"' '/^\[/{in_pkg = ($0 == "[package]")} in_pkg && /^version *=/{print $2; exit}' "$repo/Cargo.toml")"

if ! command -v desktop-file-validate >/dev/null; then
  step "apt-get install desktop-file-utils"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq desktop-file-utils >/dev/null
fi

work="$(mktemp -d)"
cleanup() {
  rm -rf "$work"
  if [ "$keep" = 0 ] && dpkg -s returnscope >/dev/null 2>&1; then dpkg -r returnscope >/dev/null; fi
}
trap cleanup EXIT

if [ -z "$deb" ]; then
  step "build the .deb"
  "$here/build-linux.sh" --out "$work/dist" "${build_args[@]}"
  deb="$(ls "$work"/dist/returnscope_*.deb)"
fi

step "inspect $(basename "$deb")"
[ "$(dpkg-deb -f "$deb" Package)" = returnscope ] || fail "Package field"
[ "$(dpkg-deb -f "$deb" Version)" = "$version" ] || fail "Version field is not Cargo.toml's $version"
contents="$(dpkg-deb -c "$deb")"
for path in ./usr/bin/returnscope ./usr/share/applications/returnscope.desktop \
  ./usr/share/metainfo/com.returnscope.ReturnScope.metainfo.xml ./usr/share/doc/returnscope/copyright; do
  grep -q " $path\$" <<<"$contents" || fail "$path missing from the package"
done
icons="$(grep -c '/usr/share/icons/hicolor/[0-9]*x[0-9]*/apps/returnscope.png$' <<<"$contents")"
[ "$icons" -eq 8 ] || fail "expected 8 icon sizes, found $icons"
pass "control fields, binary, desktop entry, metainfo, copyright, $icons icons"

step "dpkg -i"
dpkg -i "$deb" >/dev/null
[ "$(command -v returnscope)" = /usr/bin/returnscope ] || fail "returnscope is not /usr/bin/returnscope"
pass "installed $(dpkg-query -W -f='${Package} ${Version} (${Installed-Size} KiB)' returnscope)"

step "returnscope --version"
reported="$(cd "$work" && returnscope --version)"
echo "$reported"
[ "$reported" = "returnscope $version" ] || fail "--version says '$reported'"

if [ -z "$csv" ]; then
  step "returnscope sample --customers 1500"
  (cd "$work" && returnscope sample --customers 1500 --out "$work/s.csv")
  csv="$work/s.csv"
fi
step "returnscope run $(basename "$csv") --until features"
(cd "$work" && returnscope run "$csv" --db "$work/x.duckdb" --until features)
[ -s "$work/x.duckdb" ] || fail "no analysis file written"
pass "pipeline ran from the installed binary"

step "desktop entry"
desktop=/usr/share/applications/returnscope.desktop
desktop-file-validate "$desktop" || fail "desktop-file-validate"
grep -qx 'Exec=returnscope %f' "$desktop" || fail "Exec line"
grep -qx 'MimeType=text/csv;' "$desktop" || fail "MimeType line"
# dpkg's trigger runs update-desktop-database; run it again in case desktop-file-utils came later.
update-desktop-database -q /usr/share/applications
grep -q '^text/csv=.*returnscope.desktop' /usr/share/applications/mimeinfo.cache ||
  fail "returnscope.desktop not registered for text/csv in mimeinfo.cache"
pass "validates; Exec=returnscope %f; offered for text/csv"

if command -v appstreamcli >/dev/null; then
  step "AppStream metadata"
  appstreamcli validate --no-net /usr/share/metainfo/com.returnscope.ReturnScope.metainfo.xml >/dev/null ||
    fail "appstreamcli validate"
  pass "metainfo validates"
fi

if [ "$gui" = 1 ]; then
  step "GUI: open the sample CSV through the desktop entry (Xvfb)"
  apt-get install -y -qq xvfb xauth x11-utils libglib2.0-bin imagemagick libgl1-mesa-dri libegl1 \
    libgl1 libxkbcommon-x11-0 libxcursor1 libxrandr2 libxi6 >/dev/null
  xvfb-run -a -s "-screen 0 1280x800x24" bash -c '
    gio launch /usr/share/applications/returnscope.desktop "$1"
    for _ in $(seq 30); do
      xwininfo -root -tree | grep -qi "returnscope" && break
      sleep 1
    done
    sleep 5  # let the first frames render
    xwininfo -root -tree | grep -i "returnscope" > "$3"
    import -window root "$2"
  ' _ "$csv" "$shot" "$work/windows.txt"
  [ -s "$work/windows.txt" ] || fail "no ReturnScope window appeared"
  cat "$work/windows.txt"
  pass "window opened from the desktop entry; screenshot $shot"
fi

if [ "$keep" = 0 ]; then
  step "dpkg -r"
  dpkg -r returnscope >/dev/null
  [ ! -e /usr/bin/returnscope ] && [ ! -e "$desktop" ] || fail "files left after dpkg -r"
  pass "removed cleanly"
fi

printf '\nALL CHECKS PASSED in %ss\n' "$((SECONDS - started))"
