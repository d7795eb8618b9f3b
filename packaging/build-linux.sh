#!/usr/bin/env bash
# Build the Debian package (.deb) of ReturnScope.
#
#   packaging/build-linux.sh                       # cargo build --release, then package it
#   packaging/build-linux.sh --binary PATH         # package an already-built binary (no cargo)
#   RETURNSCOPE_BINARY=PATH packaging/build-linux.sh
#
# Options:
#   --binary PATH   the returnscope executable to package (default: build it in release)
#   --out DIR       where the .deb goes (default: $CARGO_TARGET_DIR/packages, else target/packages)
#   --no-strip      keep the symbols (default: strip, as Debian packages are)
#
# Environment: DEB_MAINTAINER overrides the Maintainer field (set it for a public release).
#
# Needs dpkg-deb (every Debian/Ubuntu has it); dpkg-shlibdeps (package dpkg-dev) is used for exact
# library versions when present. The package installs:
#   /usr/bin/returnscope
#   /usr/share/applications/returnscope.desktop        "Open with ReturnScope" for CSV files
#   /usr/share/icons/hicolor/NxN/apps/returnscope.png  16 to 512
#   /usr/share/metainfo/com.returnscope.ReturnScope.metainfo.xml
#   /usr/share/doc/returnscope/copyright
# The desktop and icon caches are refreshed by dpkg triggers (desktop-file-utils, hicolor-icon-theme),
# so the package needs no maintainer scripts.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/.." && pwd)"

binary="${RETURNSCOPE_BINARY:-}"
out_dir=""
strip_binary=1
while [ $# -gt 0 ]; do
  case "$1" in
    --binary) binary="${2:?--binary needs a path}"; shift 2 ;;
    --out) out_dir="${2:?--out needs a directory}"; shift 2 ;;
    --no-strip) strip_binary=0; shift ;;
    -h|--help) sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "unknown option: $1 (see --help)" >&2; exit 64 ;;
  esac
done

die() { echo "build-linux: $*" >&2; exit 1; }
command -v dpkg-deb >/dev/null || die "dpkg-deb not found (this script builds Debian packages)"

# The version comes from Cargo.toml's [package] table, so the package and `--version` agree.
version="$(awk -F'"' '/^\[/{in_pkg = ($0 == "[package]")} in_pkg && /^version *=/{print $2; exit}' "$repo/Cargo.toml")"
[ -n "$version" ] || die "no version in $repo/Cargo.toml"
arch="$(dpkg --print-architecture)"
target_dir="${CARGO_TARGET_DIR:-$repo/target}"
out_dir="${out_dir:-$target_dir/packages}"

if [ -z "$binary" ]; then
  echo "==> cargo build --release (first time: DuckDB's C++ takes ~50 min on 2 cores)"
  (cd "$repo" && cargo build --release --locked)
  binary="$target_dir/release/returnscope"
fi
[ -x "$binary" ] || die "not an executable: $binary"

# Refuse a stale binary: it must report the version being packaged.
reported="$("$binary" --version 2>/dev/null || true)"
[ "$reported" = "returnscope $version" ] ||
  die "$binary reports '$reported', expected 'returnscope $version' (rebuild it)"

stage="$(mktemp -d)"
trap 'rm -rf "$stage"' EXIT
root="$stage/returnscope_${version}_${arch}"

echo "==> staging $binary"
install -D -m 0755 "$binary" "$root/usr/bin/returnscope"
if [ "$strip_binary" = 1 ] && command -v strip >/dev/null; then
  strip --strip-unneeded "$root/usr/bin/returnscope"
fi
install -D -m 0644 "$here/linux/returnscope.desktop" "$root/usr/share/applications/returnscope.desktop"
install -D -m 0644 "$here/linux/com.returnscope.ReturnScope.metainfo.xml" \
  "$root/usr/share/metainfo/com.returnscope.ReturnScope.metainfo.xml"
for png in "$here"/icons/[0-9]*x[0-9]*.png; do
  size="$(basename "$png" .png)"
  install -D -m 0644 "$png" "$root/usr/share/icons/hicolor/$size/apps/returnscope.png"
done
install -d -m 0755 "$root/usr/share/doc/returnscope"
cat > "$root/usr/share/doc/returnscope/copyright" <<'EOF'
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: ReturnScope

Files: *
Copyright: The ReturnScope authors
License: MIT
 Permission is hereby granted, free of charge, to any person obtaining a copy of this software
 and associated documentation files (the "Software"), to deal in the Software without
 restriction, including without limitation the rights to use, copy, modify, merge, publish,
 distribute, sublicense, and/or sell copies of the Software, and to permit persons to whom the
 Software is furnished to do so, subject to the following conditions:
 .
 The above copyright notice and this permission notice shall be included in all copies or
 substantial portions of the Software.
 .
 THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR IMPLIED, INCLUDING
 BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY, FITNESS FOR A PARTICULAR PURPOSE AND
 NONINFRINGEMENT. IN NO EVENT SHALL THE AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM,
 DAMAGES OR OTHER LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,
 OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE SOFTWARE.
EOF
chmod 0644 "$root/usr/share/doc/returnscope/copyright"

# Libraries the binary links (libc, libstdc++ for DuckDB, libgcc_s), with versions when
# dpkg-shlibdeps is installed. The window system libraries are loaded at run time (dlopen) by
# winit/glutin/wgpu, so shlibdeps cannot see them: they are Recommends, which apt installs by
# default, while `dpkg -i` on a headless server (CLI use) does not require them.
depends="libc6, libgcc-s1, libstdc++6"
if command -v dpkg-shlibdeps >/dev/null; then
  mkdir -p "$stage/shlibdeps/debian"
  printf 'Source: returnscope\n\nPackage: returnscope\nArchitecture: any\n' > "$stage/shlibdeps/debian/control"
  found="$(cd "$stage/shlibdeps" && dpkg-shlibdeps -O "$root/usr/bin/returnscope" 2>/dev/null || true)"
  found="${found#shlibs:Depends=}"
  [ -n "$found" ] && depends="$found"
fi
recommends="libegl1 | libgl1, libxkbcommon0, libxkbcommon-x11-0, libx11-6, libxcursor1, libxrandr2, libxi6, libwayland-client0, libwayland-egl1, libwayland-cursor0, xdg-desktop-portal-gtk | zenity"

installed_kb="$(du -sk --apparent-size "$root/usr" | cut -f1)"
mkdir -p "$root/DEBIAN"
cat > "$root/DEBIAN/control" <<EOF
Package: returnscope
Version: $version
Architecture: $arch
Maintainer: ${DEB_MAINTAINER:-ReturnScope maintainers <packaging@returnscope.invalid>}
Installed-Size: $installed_kb
Depends: $depends
Recommends: $recommends
Section: misc
Priority: optional
Description: Segment customers by how they return what they buy
 ReturnScope reads a CSV of order lines and groups a retailer's customers by
 their return behaviour: data-quality checks, engineered customer features, a
 hybrid clustering (outliers set aside, K-means, micro-segments), segment names
 a business can act on, 2-D maps and an Excel report.
 .
 Double-click a CSV and choose "Open with ReturnScope", or run "returnscope run"
 from the command line for scheduled jobs.
EOF
(cd "$root" && find usr -type f -print0 | sort -z | xargs -0 md5sum) > "$root/DEBIAN/md5sums"
chmod 0644 "$root/DEBIAN/control" "$root/DEBIAN/md5sums"

mkdir -p "$out_dir"
deb="$out_dir/returnscope_${version}_${arch}.deb"
echo "==> dpkg-deb --build"
dpkg-deb --root-owner-group -Zxz --build "$root" "$deb" >/dev/null
echo "built $deb ($(du -h "$deb" | cut -f1); binary $(du -h "$root/usr/bin/returnscope" | cut -f1) installed)"
