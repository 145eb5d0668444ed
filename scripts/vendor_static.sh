#!/usr/bin/env bash
# Refresh the vendored front-end assets under static/vendor/ from the npm registry.
# The bank's network is closed at run time: nothing is loaded from a CDN.
set -euo pipefail
cd "$(dirname "$0")/.."

BOOTSTRAP=5.3.9
BOOTSTRAP_ICONS=1.13.2
HTMX=2.0.11
CHARTJS=4.6.1

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && for pkg in "bootstrap@$BOOTSTRAP" "bootstrap-icons@$BOOTSTRAP_ICONS" \
    "htmx.org@$HTMX" "chart.js@$CHARTJS"; do
  npm pack --silent "$pkg" >/dev/null
done)
unpack() { mkdir -p "$work/$1" && tar -xzf "$work/$2" -C "$work/$1" --strip-components=1; }
unpack bootstrap "bootstrap-$BOOTSTRAP.tgz"
unpack icons "bootstrap-icons-$BOOTSTRAP_ICONS.tgz"
unpack htmx "htmx.org-$HTMX.tgz"
unpack chartjs "chart.js-$CHARTJS.tgz"

out=static/vendor
rm -rf "$out/bootstrap" "$out/bootstrap-icons" "$out/htmx" "$out/chartjs"
mkdir -p "$out/bootstrap" "$out/bootstrap-icons/fonts" "$out/htmx" "$out/chartjs"
cp "$work"/bootstrap/dist/css/bootstrap.min.css "$work"/bootstrap/dist/css/bootstrap.min.css.map \
   "$work"/bootstrap/dist/js/bootstrap.bundle.min.js "$work"/bootstrap/dist/js/bootstrap.bundle.min.js.map \
   "$work"/bootstrap/LICENSE "$out/bootstrap/"
cp "$work"/icons/font/bootstrap-icons.min.css "$out/bootstrap-icons/"
cp "$work"/icons/font/fonts/bootstrap-icons.woff2 "$work"/icons/font/fonts/bootstrap-icons.woff \
   "$out/bootstrap-icons/fonts/"
cp "$work"/icons/LICENSE "$out/bootstrap-icons/"
cp "$work"/htmx/dist/htmx.min.js "$work"/htmx/LICENSE "$out/htmx/"
cp "$work"/chartjs/dist/chart.umd.min.js "$work"/chartjs/LICENSE.md "$out/chartjs/"
[ -f "$work"/chartjs/dist/chart.umd.min.js.map ] && cp "$work"/chartjs/dist/chart.umd.min.js.map "$out/chartjs/"

if grep -rlE "https?://[^\"' )]*\.(css|js|woff2?)" "$out" --include=*.css; then
  echo "a vendored stylesheet references an external asset" >&2
  exit 1
fi
echo "vendored: bootstrap $BOOTSTRAP, bootstrap-icons $BOOTSTRAP_ICONS, htmx $HTMX, chart.js $CHARTJS"
