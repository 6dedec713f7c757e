//! QR codes: a config out as SVG, PNG or terminal text; a config in from a photo or a
//! screenshot (PNG or JPEG) of a QR code, the way mobile clients share tunnels.

use std::io::Cursor;
use std::panic::{AssertUnwindSafe, catch_unwind};

use image::{DynamicImage, GrayImage, ImageFormat, ImageReader, Limits, Luma};
use qrcode::render::{svg, unicode};
use qrcode::{EcLevel, QrCode};

use crate::error::QrError;

/// Image files larger than this are refused (20 MiB).
pub const MAX_IMAGE_BYTES: usize = 20 * 1024 * 1024;
/// Images with more pixels than this are refused (40 megapixels).
pub const MAX_IMAGE_PIXELS: u64 = 40_000_000;

/// The QR code of `text` as an SVG document (black on white, at least 512 px wide).
pub fn qr_svg(text: &str) -> Result<String, QrError> {
    Ok(encode(text)?
        .render::<svg::Color<'_>>()
        .min_dimensions(512, 512)
        .dark_color(svg::Color("#000000"))
        .light_color(svg::Color("#ffffff"))
        .build())
}

/// The QR code of `text` as a PNG: 8 px modules, with the standard 4-module margin.
pub fn qr_png(text: &str) -> Result<Vec<u8>, QrError> {
    let image = encode(text)?
        .render::<Luma<u8>>()
        .module_dimensions(8, 8)
        .build();
    let mut png = Vec::new();
    DynamicImage::ImageLuma8(image)
        .write_to(&mut Cursor::new(&mut png), ImageFormat::Png)
        .map_err(|e| QrError::Render(e.to_string()))?;
    Ok(png)
}

/// The QR code of `text` drawn with Unicode half blocks, two modules per character
/// cell, for a terminal with a dark background (light blocks are the light modules,
/// the margin included, so phones read it as printed on paper).
pub fn qr_terminal(text: &str) -> Result<String, QrError> {
    Ok(encode(text)?
        .render::<unicode::Dense1x2>()
        .dark_color(unicode::Dense1x2::Light)
        .light_color(unicode::Dense1x2::Dark)
        .build())
}

/// Reads the text of the first QR code found in a PNG or JPEG image.
///
/// Photos are large and uneven, so when the image as it is yields nothing, a
/// downscaled, a contrast-stretched and an inverted (dark mode) variant are tried.
pub fn decode_qr(bytes: &[u8]) -> Result<String, QrError> {
    decode_gray(load(bytes)?)
}

/// Reads the text of the first QR code found in raw RGBA pixels (a camera frame or a
/// clipboard image), `width * height * 4` bytes, rows top to bottom.
pub fn decode_qr_rgba(width: u32, height: u32, rgba: &[u8]) -> Result<String, QrError> {
    if u64::from(width) * u64::from(height) > MAX_IMAGE_PIXELS {
        return Err(QrError::ImageTooLarge {
            width,
            height,
            max: MAX_IMAGE_PIXELS,
        });
    }
    let expected = u64::from(width) * u64::from(height) * 4;
    if rgba.len() as u64 != expected || expected == 0 {
        return Err(QrError::BadImage(format!(
            "{width}x{height} RGBA pixels need {expected} bytes, got {}",
            rgba.len()
        )));
    }
    let gray = GrayImage::from_fn(width, height, |x, y| {
        let at = ((y as usize) * (width as usize) + x as usize) * 4;
        let [r, g, b, a] = [rgba[at], rgba[at + 1], rgba[at + 2], rgba[at + 3]];
        // Rec. 601 luma, composited over white so a transparent margin reads as paper.
        let luma = (299 * u32::from(r) + 587 * u32::from(g) + 114 * u32::from(b)) / 1000;
        let alpha = u32::from(a);
        image::Luma([((luma * alpha + 255 * (255 - alpha)) / 255) as u8])
    });
    decode_gray(gray)
}

/// The scanning strategy shared by every input form.
fn decode_gray(original: GrayImage) -> Result<String, QrError> {
    /// Larger images are also tried scaled down to this many pixels on their long side.
    const SMALL: u32 = 1024;
    let (w, h) = original.dimensions();
    let base = if w.max(h) > SMALL {
        let scale = f64::from(SMALL) / f64::from(w.max(h));
        image::imageops::thumbnail(&original, scaled(w, scale), scaled(h, scale))
    } else {
        original.clone()
    };
    let mut last = QrError::NoQrCode;
    if let Some(text) = keep(&mut last, scan(original)) {
        return Ok(text);
    }
    if w.max(h) > SMALL
        && let Some(text) = keep(&mut last, scan(base.clone()))
    {
        return Ok(text);
    }
    if let Some(text) = keep(&mut last, scan(stretch(&base))) {
        return Ok(text);
    }
    let mut inverted = base;
    image::imageops::invert(&mut inverted);
    keep(&mut last, scan(inverted)).ok_or(last)
}

/// The text of a successful scan; otherwise remembers the most useful error so far (a
/// code found but not read says more than no code at all).
fn keep(last: &mut QrError, result: Result<String, QrError>) -> Option<String> {
    match result {
        Ok(text) => Some(text),
        Err(e @ (QrError::Unreadable(_) | QrError::NotText)) => {
            *last = e;
            None
        }
        Err(_) => None,
    }
}

fn encode(text: &str) -> Result<QrCode, QrError> {
    // Medium error correction survives a photo of a screen; fall back to low so that
    // long configs (many peers) still fit in one code.
    QrCode::with_error_correction_level(text, EcLevel::M)
        .or_else(|_| QrCode::with_error_correction_level(text, EcLevel::L))
        .map_err(|_| QrError::TooLong(text.len()))
}

fn load(bytes: &[u8]) -> Result<GrayImage, QrError> {
    if bytes.len() > MAX_IMAGE_BYTES {
        return Err(QrError::FileTooLarge {
            size: bytes.len(),
            max: MAX_IMAGE_BYTES,
        });
    }
    let format = match image::guess_format(bytes) {
        Ok(f @ (ImageFormat::Png | ImageFormat::Jpeg)) => f,
        _ => return Err(QrError::NotAnImage),
    };
    let (width, height) = ImageReader::with_format(Cursor::new(bytes), format)
        .into_dimensions()
        .map_err(|e| QrError::BadImage(e.to_string()))?;
    if u64::from(width) * u64::from(height) > MAX_IMAGE_PIXELS {
        return Err(QrError::ImageTooLarge {
            width,
            height,
            max: MAX_IMAGE_PIXELS,
        });
    }
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    let mut limits = Limits::default();
    // The header was checked above; these hold the decoder to it.
    limits.max_image_width = Some(width);
    limits.max_image_height = Some(height);
    limits.max_alloc = Some(MAX_IMAGE_PIXELS * 8);
    reader.limits(limits);
    let image = reader
        .decode()
        .map_err(|e| QrError::BadImage(e.to_string()))?;
    Ok(image.into_luma8())
}

fn scaled(n: u32, scale: f64) -> u32 {
    // `scale` < 1 and `n` is a u32, so the product fits; the cast only drops decimals.
    ((f64::from(n) * scale).round() as u32).max(1)
}

/// Stretches the darkest 1% to black and the lightest 1% to white: photos of screens
/// are often grey on grey.
fn stretch(image: &GrayImage) -> GrayImage {
    let mut histogram = [0u64; 256];
    for p in image.pixels() {
        histogram[usize::from(p.0[0])] += 1;
    }
    let total: u64 = histogram.iter().sum();
    let cut = total / 100;
    let (mut lo, mut hi, mut seen) = (0usize, 255usize, 0u64);
    while lo < 255 && seen + histogram[lo] <= cut {
        seen += histogram[lo];
        lo += 1;
    }
    seen = 0;
    while hi > lo && seen + histogram[hi] <= cut {
        seen += histogram[hi];
        hi -= 1;
    }
    let mut out = image.clone();
    if hi > lo {
        let (lo, range) = (lo as u32, (hi - lo) as u32);
        for p in out.pixels_mut() {
            let v = u32::from(p.0[0]).saturating_sub(lo) * 255 / range;
            p.0[0] = u8::try_from(v.min(255)).unwrap_or(255);
        }
    }
    out
}

/// Looks for QR codes in one image and returns the text of the first readable one.
fn scan(image: GrayImage) -> Result<String, QrError> {
    // rqrr can still panic on some degenerate inputs (an assertion in its perspective
    // mapping, WanzenBug/rqrr#54). The image is ours alone, so nothing is left half
    // updated if it does; a panic is reported as an unreadable image. This cannot help
    // under `panic = "abort"`.
    let result = catch_unwind(AssertUnwindSafe(move || {
        let mut prepared = rqrr::PreparedImage::prepare(image);
        let mut outcome = Err(QrError::NoQrCode);
        for grid in prepared.detect_grids() {
            let mut bytes = Vec::new();
            match grid.decode_to(&mut bytes) {
                Ok(_) => {
                    return String::from_utf8(bytes).map_err(|_| QrError::NotText);
                }
                Err(e) => outcome = Err(QrError::Unreadable(e.to_string())),
            }
        }
        outcome
    }));
    result.unwrap_or_else(|_| Err(QrError::Unreadable("the QR decoder failed".to_owned())))
}
