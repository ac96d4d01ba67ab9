#!/usr/bin/env bash
# Regenerates test/fixtures/preprocess/: a few photo-like test images and, for each, the
# pixel_values that the model's own preprocessing (PIL + torchvision, see
# /work/shared/reference/preprocess_reference.py) computes from it, stored as gzipped float16
# little-endian CHW (3x512x512) so the parity test runs in CI without Python.
# Needs Debian's python3-numpy, python3-pil and python3-torchvision: run with /usr/bin/python3.
#   usage: scripts/make-preprocess-fixtures.sh [REFERENCE_SCRIPT]
set -euo pipefail
cd "$(dirname "$0")/.."
PY=/usr/bin/python3
REF="${1:-/work/shared/reference/preprocess_reference.py}"
OUT=test/fixtures/preprocess
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT
mkdir -p "$OUT"
rm -f "$OUT"/*.jpg "$OUT"/*.png "$OUT"/*.f16.gz

"$PY" - "$OUT" <<'PYEOF'
import sys
import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

out = sys.argv[1]

def scene(w, h, seed, sky=0.4):
    """Photo-like: 1/f textured ground under a smooth sky, hard-edged objects, and 1-3 px
    stripes and small text, which alias visibly if a resize skips its low-pass filter."""
    rng = np.random.default_rng(seed)
    fy = np.fft.fftfreq(h)[:, None]; fx = np.fft.rfftfreq(w)[None, :]
    f = np.sqrt(fx * fx + fy * fy); f[0, 0] = 1
    optics = np.exp(-(f / 0.3) ** 2)  # lens and demosaicing leave photos little energy near Nyquist
    def field(alpha):
        spec = (rng.normal(size=f.shape) + 1j * rng.normal(size=f.shape)) / f ** alpha * optics
        spec[0, 0] = 0
        x = np.fft.irfft2(spec, s=(h, w)); return x / x.std()
    tex, c1, c2, horizon = field(1.0), field(1.5), field(1.5), field(2.0)
    yy = np.linspace(0, 1, h)[:, None] * np.ones((1, w))
    ground = (yy > sky + 0.08 * horizon)[..., None]
    skyc = np.stack([90 + 100 * yy, 140 + 80 * yy, 220 + 20 * yy], -1) + 6 * c1[..., None]
    soil = np.stack([tex + 0.3 * c1, tex - 0.1 * c1 + 0.2 * c2, tex - 0.4 * c2], -1) * 30 + [110, 100, 70]
    im = Image.fromarray(np.clip(np.where(ground, soil, skyc), 0, 255).astype(np.uint8))
    d = ImageDraw.Draw(im)
    for _ in range(10):
        x0, y0 = int(rng.integers(0, w)), int(rng.integers(0, h)); s = int(rng.integers(min(w, h) // 20, min(w, h) // 5))
        col = tuple(int(c) for c in rng.integers(0, 256, 3))
        (d.ellipse if rng.random() < 0.5 else d.rectangle)([x0, y0, x0 + s, y0 + int(s * rng.uniform(0.5, 1.5))], fill=col)
    px, py = w // 12, h // 2
    for i in range(0, w // 5, 2): d.line([px + i, py, px + i, py + h // 8], fill=(25, 25, 25), width=1)
    for i in range(0, h // 8, 3): d.line([px + w // 4, py + i, px + w // 4 + w // 5, py + i], fill=(240, 235, 220), width=1)
    font = ImageFont.load_default()
    for r in range(6): d.text((w // 2, h * 2 // 3 + r * 12), "Catalogue 0123456789 ABCDEF", fill=(250, 250, 250), font=font)
    return im.filter(ImageFilter.GaussianBlur(0.4))

# Landscape 4:3 camera size: downscale by 2.34, no JPEG shrink-on-load.
scene(1600, 1200, 1).save(f"{out}/photo-1600x1200.jpg", quality=88)

# Portrait shown upright through EXIF orientation 6: the pixels are stored turned 90 degrees
# anticlockwise, and the viewer (and the reference's exif_transpose) turns them back.
exif = Image.Exif(); exif[0x0112] = 6
scene(1200, 1600, 2).transpose(Image.Transpose.ROTATE_90).save(f"{out}/portrait-exif6-1200x1600.jpg", quality=88, exif=exif.tobytes())

# 3:2 at 3072x2048: a downscale by 4, where the JPEG decoder's shrink-on-load is used.
scene(3072, 2048, 3, sky=0.55).save(f"{out}/large-3072x2048.jpg", quality=80)

# Square greyscale: an L-mode JPEG, which both decoders turn into three equal channels.
scene(1024, 1024, 5).convert("L").save(f"{out}/grey-1024x1024.jpg", quality=85)

# Cut-out product shot with alpha, smaller than 512 (so upscaled): opaque centre, soft edge,
# fully transparent corners whose hidden colours are not black.
rgb = scene(480, 320, 4)
yy, xx = np.mgrid[0:320, 0:480]
r = np.sqrt(((xx - 240) / 200.0) ** 2 + ((yy - 160) / 130.0) ** 2)
alpha = np.clip((1.0 - r) * 6.0, 0, 1) * 255
alpha[250:, :120] = 128  # a half-transparent band
rgba = np.dstack([np.asarray(rgb), alpha.astype(np.uint8)])
Image.fromarray(rgba, "RGBA").save(f"{out}/alpha-480x320.png", optimize=True)

# The same idea larger than 512 (downscaled by libvips): where the resized alpha is 0 or 1-2 the
# reference divides tiny premultiplied values, so its fringe pixels swing between black and white.
rgb = scene(800, 600, 6, sky=0.7)
yy, xx = np.mgrid[0:600, 0:800]
r = np.sqrt(((xx - 400) / 330.0) ** 2 + ((yy - 300) / 250.0) ** 2)
alpha = np.clip((1.0 - r) * 8.0, 0, 1) * 255
rgba = np.dstack([np.asarray(rgb), alpha.astype(np.uint8)])
Image.fromarray(rgba, "RGBA").save(f"{out}/alpha-800x600.png", optimize=True)
PYEOF

"$PY" "$REF" "$TMP" "$OUT"/*.jpg "$OUT"/*.png
"$PY" - "$TMP" "$OUT" <<'PYEOF'
import gzip, os, sys
import numpy as np
tmp, out = sys.argv[1], sys.argv[2]
for name in sorted(os.listdir(tmp)):
    x = np.fromfile(os.path.join(tmp, name), "<f4")
    with open(os.path.join(out, name[: -len(".f32")] + ".f16.gz"), "wb") as f:
        f.write(gzip.compress(x.astype("<f2").tobytes(), compresslevel=9, mtime=0))
PYEOF
du -ch "$OUT"/* | tail -n 1
