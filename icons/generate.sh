#!/bin/sh
# Regenerates every icon in this directory from the SVG sources in src/.
# Needs rsvg-convert (librsvg2-bin), ImageMagick's convert (imagemagick) and
# png2icns (icnsutils). `cargo xtask dist icons` installs them and runs this.
set -eu
cd "$(dirname "$0")"

render() { # source size output
    rsvg-convert --width "$2" --height "$2" --keep-aspect-ratio "$1" --output "$3"
}

# The app icon: Tauri's standard set ...
render src/culvert.svg 32 32x32.png
render src/culvert.svg 128 128x128.png
render src/culvert.svg 256 128x128@2x.png
render src/culvert.svg 512 icon.png

# ... the freedesktop hicolor theme's sizes (Linux packages, the AppImage) ...
for size in 16 22 24 32 48 64 128 256 512; do
    mkdir -p "hicolor/${size}x${size}/apps"
    render src/culvert.svg "$size" "hicolor/${size}x${size}/apps/culvert.png"
done
mkdir -p hicolor/scalable/apps
cp src/culvert.svg hicolor/scalable/apps/culvert.svg

# ... Windows' .ico (every size Explorer asks for) and macOS' .icns.
ico_parts=""
for size in 16 24 32 48 64 256; do
    ico_parts="$ico_parts hicolor/${size}x${size}/apps/culvert.png"
done
[ -e hicolor/24x24/apps/culvert.png ]
# /usr/bin/convert, not whatever `convert` comes first on PATH: the real ImageMagick.
IM_CONVERT=${IM_CONVERT:-/usr/bin/convert}
# shellcheck disable=SC2086 # the list is ours, without spaces
"$IM_CONVERT" $ico_parts icon.ico
png2icns icon.icns hicolor/16x16/apps/culvert.png hicolor/32x32/apps/culvert.png \
    hicolor/48x48/apps/culvert.png hicolor/128x128/apps/culvert.png \
    hicolor/256x256/apps/culvert.png hicolor/512x512/apps/culvert.png >/dev/null

# Tray icons: 32 px and 64 px (@2x) of each state.
mkdir -p tray
for state in connected disconnected error; do
    render "src/tray-$state.svg" 32 "tray/$state.png"
    render "src/tray-$state.svg" 64 "tray/$state@2x.png"
done
