//! QR codes: encoding, decoding, and codes made by Debian's `qrencode`.

use std::io::{Cursor, Write};
use std::process::{Command, Stdio};

use culvert_config::{QrError, decode_qr, decode_qr_rgba, parse, qr_png, qr_svg, qr_terminal};
use image::{DynamicImage, GrayImage, ImageFormat, Luma, imageops};

const CLIENT: &str = include_str!("data/client.conf");
const QRENCODE_PNG: &[u8] = include_bytes!("data/client-qrencode.png");

fn encode(image: DynamicImage, format: ImageFormat) -> Vec<u8> {
    let mut out = Vec::new();
    image.write_to(&mut Cursor::new(&mut out), format).unwrap();
    out
}

#[test]
fn png_round_trip() {
    let png = qr_png(CLIENT).unwrap();
    assert!(png.starts_with(b"\x89PNG"));
    assert_eq!(decode_qr(&png).unwrap(), CLIENT);
    // And the decoded text is the same config.
    let config = parse(&decode_qr(&png).unwrap()).unwrap().config;
    assert_eq!(config, parse(CLIENT).unwrap().config);
}

#[test]
fn svg_and_terminal_output() {
    let svg = qr_svg(CLIENT).unwrap();
    assert!(svg.starts_with("<?xml"), "{}", &svg[..40]);
    assert!(svg.contains("<svg") && svg.contains("#000000"));

    let text = qr_terminal("hello").unwrap();
    let lines: Vec<&str> = text.lines().collect();
    // Version 1 is 21 modules plus a 4-module margin each side: 29 wide, 15 rows of two.
    assert_eq!(lines.len(), 15);
    assert!(lines.iter().all(|l| l.chars().count() == 29));
    assert!(
        lines[0].chars().all(|c| c == '\u{2588}'),
        "the margin is light, drawn solid"
    );
    assert!(
        text.chars()
            .all(|c| " \u{2580}\u{2584}\u{2588}\n".contains(c))
    );
}

#[test]
fn decodes_the_committed_qrencode_png() {
    // Made by `qrencode -o client-qrencode.png -r client.conf` (see tests/data/README.md).
    assert_eq!(decode_qr(QRENCODE_PNG).unwrap(), CLIENT);
}

#[test]
fn decodes_a_phone_photo_like_jpeg() {
    // A large, grey, low-contrast JPEG with the code off-centre: what a photo of a
    // screen looks like after the camera's processing.
    let code = image::load_from_memory(QRENCODE_PNG).unwrap().into_luma8();
    let code = imageops::resize(&code, 621, 621, imageops::FilterType::Nearest);
    let mut photo = GrayImage::from_pixel(2400, 1800, Luma([150]));
    imageops::overlay(&mut photo, &code, 900, 500);
    for p in photo.pixels_mut() {
        // Squeeze 0..=255 into 90..=170.
        p.0[0] = 90 + (u16::from(p.0[0]) * 80 / 255) as u8;
    }
    let jpeg = encode(DynamicImage::ImageLuma8(photo), ImageFormat::Jpeg);
    assert!(jpeg.starts_with(&[0xff, 0xd8]));
    assert_eq!(decode_qr(&jpeg).unwrap(), CLIENT);
}

#[test]
fn decodes_a_dark_mode_screenshot() {
    let mut code = image::load_from_memory(&qr_png("dark mode").unwrap())
        .unwrap()
        .into_luma8();
    imageops::invert(&mut code);
    let png = encode(DynamicImage::ImageLuma8(code), ImageFormat::Png);
    assert_eq!(decode_qr(&png).unwrap(), "dark mode");
}

#[test]
fn clear_errors_for_bad_images() {
    assert_eq!(decode_qr(b"GIF89a...."), Err(QrError::NotAnImage));
    assert_eq!(decode_qr(b""), Err(QrError::NotAnImage));
    assert_eq!(decode_qr(CLIENT.as_bytes()), Err(QrError::NotAnImage));
    let blank = encode(
        DynamicImage::ImageLuma8(GrayImage::from_pixel(300, 200, Luma([255]))),
        ImageFormat::Png,
    );
    assert_eq!(decode_qr(&blank), Err(QrError::NoQrCode));
    let truncated = &QRENCODE_PNG[..QRENCODE_PNG.len() / 2];
    assert!(matches!(decode_qr(truncated), Err(QrError::BadImage(_))));

    // A PNG header claiming 10000 x 5000 pixels is refused before anything is decoded.
    let mut huge = qr_png("x").unwrap();
    huge[16..20].copy_from_slice(&10_000u32.to_be_bytes());
    huge[20..24].copy_from_slice(&5_000u32.to_be_bytes());
    let crc = crc32(&huge[12..29]);
    huge[29..33].copy_from_slice(&crc.to_be_bytes());
    let err = decode_qr(&huge).unwrap_err();
    assert!(
        matches!(
            err,
            QrError::ImageTooLarge {
                width: 10_000,
                height: 5_000,
                ..
            }
        ),
        "{err}"
    );
    let mut oversized = vec![0u8; 20 * 1024 * 1024 + 1];
    oversized[..8].copy_from_slice(b"\x89PNG\r\n\x1a\n");
    assert!(matches!(
        decode_qr(&oversized),
        Err(QrError::FileTooLarge { .. })
    ));

    // Binary content is not a config.
    assert_eq!(qr_png(&"x".repeat(3000)), Err(QrError::TooLong(3000)));
}

/// The CRC-32 of PNG chunks (ISO-HDLC), bit by bit: slow, short, and only for tests.
fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xedb8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// Runs Debian's `qrencode` the way users share configs with phones. `cargo xtask test`
/// installs it; without it this test says so and stops, the one allowed skip.
#[test]
fn decodes_what_qrencode_makes_now() {
    let Ok(mut child) = Command::new("qrencode")
        .args(["-t", "PNG", "-o", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
    else {
        eprintln!("SKIPPED: `qrencode` is not installed (apt-get install qrencode)");
        return;
    };
    let server = include_str!("data/server.conf");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(server.as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "qrencode failed: {output:?}");
    assert_eq!(decode_qr(&output.stdout).unwrap(), server);
}

#[test]
fn decodes_raw_rgba_pixels_like_a_camera_frame() {
    let text = "[Interface]\nPrivateKey = YNqHbfBQKaGvzefSSgsXh2eEfP2QTiDY8wJbrWbxwlM=\n";
    let png = qr_png(text).unwrap();
    let rgba = image::load_from_memory(&png).unwrap().to_rgba8();
    let (w, h) = rgba.dimensions();
    assert_eq!(decode_qr_rgba(w, h, rgba.as_raw()).unwrap(), text);

    // Transparent pixels read as paper: a code drawn on a transparent canvas.
    let mut transparent = rgba.clone();
    for pixel in transparent.pixels_mut() {
        if pixel.0[0] > 128 {
            pixel.0 = [0, 0, 0, 0];
        }
    }
    assert_eq!(decode_qr_rgba(w, h, transparent.as_raw()).unwrap(), text);

    let blank = vec![255u8; 64 * 64 * 4];
    assert!(matches!(
        decode_qr_rgba(64, 64, &blank),
        Err(QrError::NoQrCode)
    ));
    assert!(matches!(
        decode_qr_rgba(64, 64, &blank[..100]),
        Err(QrError::BadImage(_))
    ));
    assert!(matches!(
        decode_qr_rgba(0, 0, &[]),
        Err(QrError::BadImage(_))
    ));
    assert!(matches!(
        decode_qr_rgba(100_000, 100_000, &[]),
        Err(QrError::ImageTooLarge { .. })
    ));
}
