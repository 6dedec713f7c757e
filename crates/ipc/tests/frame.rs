//! Framing: chunk boundaries, limits, truncation, garbage, and the tokio codec.

mod common;

use std::io::Cursor;

use common::*;
use culvert_ipc::*;
use proptest::prelude::*;

fn three_frames() -> (Vec<ServerMessage>, Vec<u8>) {
    let messages = vec![
        Hello::new("x").answer("0.1.0"),
        ServerMessage::Response(Response::ok(1, bodies().remove(2))),
        ServerMessage::Event(Event::Log(log_line())),
    ];
    let bytes = messages.iter().flat_map(|m| encode(m).unwrap()).collect();
    (messages, bytes)
}

fn decode_chunked(bytes: &[u8], cuts: &[usize]) -> Vec<ServerMessage> {
    let mut decoder = FrameDecoder::new();
    let mut out = Vec::new();
    let mut start = 0;
    for &cut in cuts.iter().chain(Some(&bytes.len())) {
        let cut = cut.clamp(start, bytes.len());
        decoder.feed(&bytes[start..cut]);
        start = cut;
        while let Some(m) = decoder.next_message::<ServerMessage>().unwrap() {
            out.push(m);
        }
    }
    decoder.finish().unwrap();
    out
}

#[test]
fn frame_layout_is_big_endian_length_then_json() {
    let frame = encode(&ClientMessage::Request(RequestEnvelope {
        id: 1,
        request: Request::ListTunnels,
    }))
    .unwrap();
    let json = br#"{"kind":"request","id":1,"type":"list_tunnels"}"#;
    assert_eq!(&frame[..4], &(json.len() as u32).to_be_bytes());
    assert_eq!(&frame[4..], json);
}

#[test]
fn every_single_split_point_decodes() {
    let (messages, bytes) = three_frames();
    for cut in 0..=bytes.len() {
        assert_eq!(decode_chunked(&bytes, &[cut]), messages, "cut at {cut}");
    }
}

#[test]
fn byte_by_byte_decodes() {
    let (messages, bytes) = three_frames();
    let cuts: Vec<usize> = (0..bytes.len()).collect();
    assert_eq!(decode_chunked(&bytes, &cuts), messages);
}

#[test]
fn oversize_length_is_refused_from_the_header_alone() {
    for len in [MAX_FRAME as u32 + 1, u32::MAX] {
        let mut decoder = FrameDecoder::new();
        decoder.feed(&len.to_be_bytes()[..3]);
        assert!(decoder.next_frame().unwrap().is_none());
        decoder.feed(&len.to_be_bytes()[3..]);
        let e = decoder.next_frame().unwrap_err();
        assert!(
            matches!(e, FrameError::TooLarge { len: l, max: MAX_FRAME } if l == u64::from(len)),
            "{e:?}"
        );
        assert!(
            e.to_string().contains("at most 1048576 bytes (1 MiB)"),
            "{e}"
        );
        assert_eq!(
            decoder.buffered(),
            4,
            "nothing of the claimed size was kept"
        );
        // The stream is out of sync for good.
        decoder.feed(&encode(&Hello::new("x")).unwrap());
        assert!(matches!(
            decoder.next_frame(),
            Err(FrameError::TooLarge { .. })
        ));
    }
    // The blocking reader refuses it too, without reading (or allocating) the body.
    let mut r = Cursor::new(u32::MAX.to_be_bytes().to_vec());
    assert!(matches!(
        read_frame(&mut r),
        Err(FrameError::TooLarge { .. })
    ));
}

#[test]
fn a_frame_of_exactly_max_frame_is_accepted() {
    // A JSON string of MAX_FRAME bytes, quotes included.
    let s = "a".repeat(MAX_FRAME - 2);
    let frame = encode(&s).unwrap();
    assert_eq!(frame.len(), MAX_FRAME + 4);
    let mut decoder = FrameDecoder::new();
    decoder.feed(&frame);
    assert_eq!(decoder.next_message::<String>().unwrap(), Some(s.clone()));
    let mut r = Cursor::new(frame);
    assert_eq!(read_frame(&mut r).unwrap().unwrap().len(), MAX_FRAME);

    let e = encode(&format!("{s}b")).unwrap_err();
    assert!(matches!(e, FrameError::TooLarge { len, .. } if len == MAX_FRAME as u64 + 1));
}

#[test]
fn a_zip_too_large_for_a_frame_is_refused_on_encode() {
    let request = ClientMessage::Request(RequestEnvelope {
        id: 1,
        request: Request::ImportZip {
            bytes: vec![0; 800 * 1024].into(),
            on_conflict: OnConflict::Fail,
        },
    });
    assert!(matches!(encode(&request), Err(FrameError::TooLarge { .. })));
}

#[test]
fn truncation_is_reported() {
    let frame = encode(&Hello::new("x")).unwrap();
    for cut in 1..frame.len() {
        let mut decoder = FrameDecoder::new();
        decoder.feed(&frame[..cut]);
        assert!(decoder.next_frame().unwrap().is_none());
        let e = decoder.finish().unwrap_err();
        let expected = if cut < 4 { 4 } else { frame.len() };
        assert!(
            matches!(e, FrameError::Truncated { expected: x, got } if x == expected && got == cut),
            "{e:?}"
        );
        let e = read_frame(&mut Cursor::new(&frame[..cut])).unwrap_err();
        assert!(
            matches!(e, FrameError::Truncated { got, .. } if got == cut),
            "{e:?}"
        );
        assert!(e.to_string().contains("closed in the middle of a frame"));
    }
    // End of stream between frames is clean.
    let mut r = Cursor::new(frame.clone());
    assert!(read_frame(&mut r).unwrap().is_some());
    assert!(read_frame(&mut r).unwrap().is_none());
    assert!(FrameDecoder::new().finish().is_ok());
}

#[test]
fn a_bad_payload_does_not_desynchronise_the_stream() {
    let mut bytes = Vec::new();
    for payload in [&b"not json"[..], b"", br#"{"kind":"nope"}"#] {
        bytes.extend_from_slice(&(payload.len() as u32).to_be_bytes());
        bytes.extend_from_slice(payload);
    }
    bytes.extend(encode(&ClientMessage::Hello(Hello::new("x"))).unwrap());
    let mut decoder = FrameDecoder::new();
    decoder.feed(&bytes);
    assert!(matches!(
        decoder.next_message::<ClientMessage>(),
        Err(FrameError::Json(_))
    ));
    assert!(matches!(
        decoder.next_message::<ClientMessage>(),
        Err(FrameError::Json(_))
    ));
    let e = decoder.next_message::<ClientMessage>().unwrap_err();
    assert!(
        matches!(&e, FrameError::Message(m) if m.contains("unknown variant `nope`")),
        "{e:?}"
    );
    assert!(matches!(
        decoder.next_message::<ClientMessage>(),
        Ok(Some(ClientMessage::Hello(_)))
    ));
    assert!(decoder.next_message::<ClientMessage>().unwrap().is_none());
}

#[test]
fn write_then_read_blocking() {
    let mut buf = Vec::new();
    for m in server_messages() {
        write_frame(&mut buf, &m).unwrap();
    }
    let mut r = Cursor::new(buf);
    let mut back = Vec::new();
    while let Some(payload) = read_frame(&mut r).unwrap() {
        back.push(decode::<ServerMessage>(&payload).unwrap());
    }
    assert_eq!(back, server_messages());
}

proptest! {
    #[test]
    fn any_chunking_decodes_the_same(cuts in proptest::collection::vec(0usize..2000, 0..20)) {
        let (messages, bytes) = three_frames();
        let mut cuts = cuts;
        cuts.sort_unstable();
        prop_assert_eq!(decode_chunked(&bytes, &cuts), messages);
    }

    #[test]
    fn arbitrary_bytes_never_panic(
        bytes in proptest::collection::vec(any::<u8>(), 0..600),
        chunk in 1usize..64,
    ) {
        let mut decoder = FrameDecoder::new();
        for piece in bytes.chunks(chunk) {
            decoder.feed(piece);
            // Either side's decoder: errors are fine, panics are not.
            while let Ok(Some(_)) = decoder.next_message::<ClientMessage>() {}
        }
        let _ = decoder.finish();
        let mut decoder = FrameDecoder::new();
        decoder.feed(&bytes);
        while let Ok(Some(_)) = decoder.next_message::<ServerMessage>() {}
        let mut r = Cursor::new(&bytes);
        while let Ok(Some(_)) = read_frame(&mut r) {}
        let _ = decode::<ClientMessage>(&bytes);
        let _ = request_id(&bytes);
    }

    #[test]
    fn arbitrary_payloads_in_valid_frames_never_panic(payload in proptest::collection::vec(any::<u8>(), 0..300)) {
        let mut frame = (payload.len() as u32).to_be_bytes().to_vec();
        frame.extend_from_slice(&payload);
        let mut decoder = FrameDecoder::new();
        decoder.feed(&frame);
        let _ = decoder.next_message::<ServerMessage>();
        prop_assert_eq!(decoder.buffered(), 0);
    }

    #[test]
    fn json_like_garbage_never_panics(s in r#"\{("(kind|type|id|ok|error|name|bytes)":("[a-z_]*"|-?[0-9]{1,25}|null|\[\]|\{\}|true),?){0,6}\}"#) {
        let _ = decode::<ClientMessage>(s.as_bytes());
        let _ = decode::<ServerMessage>(s.as_bytes());
        let _ = request_id(s.as_bytes());
    }
}

#[cfg(feature = "tokio")]
mod tokio_codec {
    use bytes::BytesMut;
    use futures::{SinkExt as _, StreamExt as _};
    use tokio_util::codec::{Decoder as _, Encoder as _, Framed};

    use super::*;

    #[test]
    fn decodes_in_pieces_and_refuses_oversize() {
        let (messages, bytes) = three_frames();
        let mut codec = FrameCodec;
        let mut buf = BytesMut::new();
        let mut out = Vec::new();
        for piece in bytes.chunks(7) {
            buf.extend_from_slice(piece);
            while let Some(payload) = codec.decode(&mut buf).unwrap() {
                out.push(decode::<ServerMessage>(&payload).unwrap());
            }
        }
        assert_eq!(out, messages);
        assert!(codec.decode_eof(&mut buf).unwrap().is_none());

        let mut buf = BytesMut::from(&u32::MAX.to_be_bytes()[..]);
        assert!(matches!(
            codec.decode(&mut buf),
            Err(FrameError::TooLarge { .. })
        ));
        assert!(buf.capacity() < 1024, "the claimed size was not reserved");

        let mut buf = BytesMut::from(&bytes[..10]);
        assert!(matches!(
            codec.decode_eof(&mut buf),
            Err(FrameError::Truncated { got: 10, .. })
        ));

        let mut dst = BytesMut::new();
        codec.encode(&messages[0], &mut dst).unwrap();
        assert_eq!(&dst[..], &encode(&messages[0]).unwrap()[..]);
    }

    #[test]
    fn framed_over_a_duplex_pipe() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        rt.block_on(async {
            let (a, b) = tokio::io::duplex(64);
            let mut client = Framed::new(a, FrameCodec);
            let mut service = Framed::new(b, FrameCodec);
            let sent = client_messages();
            let writer = async {
                for m in &sent {
                    client.send(m).await.unwrap();
                }
                client
            };
            let reader = async {
                let mut got = Vec::new();
                while got.len() < sent.len() {
                    let payload = service.next().await.unwrap().unwrap();
                    got.push(decode::<ClientMessage>(&payload).unwrap());
                }
                got
            };
            let (client, got) = tokio::join!(writer, reader);
            assert_eq!(got, sent);
            drop(client);
            assert!(service.next().await.is_none(), "clean end of stream");
        });
    }
}
