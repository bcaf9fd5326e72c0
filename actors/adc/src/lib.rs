//! `adc`: the SPI example. `GET /adc/N` reads channel N (0 to 7) of an
//! MCP3008 on chip select 0 of SPI bus 0, through the SDK's embedded-hal
//! `SpiDevice`, and answers `{"channel":N,"code":C,"volts":V}` for a 3.3 V
//! reference; `GET /adc/N?differential` reads the channel's pair instead,
//! and `GET /adc/N?words=16` clocks the same conversion in two 16-bit words
//! (embedded-hal's `SpiDevice<u16>`), as a controller that only moves
//! 16-bit words would.
//! A refused or failed transaction answers 502 with the reason.

use host_edge_actor::embedded_hal::spi::SpiDevice;
use host_edge_actor::prelude::*;

/// The reference the part is wired to, in volts.
const VREF: f64 = 3.3;

actor_handlers! { http::HANDLE_REQUEST => serve }

/// One conversion: start bit, then single-ended (or differential) and the
/// channel, in the three-byte framing of the datasheet (figure 6-1).
fn convert(channel: u8, single_ended: bool) -> Result<u16, spi::SpiError> {
    let mut frame = [0x01, (u8::from(single_ended) << 7) | (channel << 4), 0x00];
    spi::device(0, 0).with_speed(1_000_000).transfer_in_place(&mut frame)?;
    Ok(u16::from(frame[1] & 0x03) << 8 | u16::from(frame[2]))
}

/// The same conversion in two 16-bit words: `0x01, SGL|D2 D1 D0 << 4` is
/// the first word on the wire, the result's B9 B8 end it and B7..B0 head
/// the second.
fn convert_in_words(channel: u8, single_ended: bool) -> Result<u16, spi::SpiError> {
    let mut words = [0x0100 | u16::from(u8::from(single_ended) << 7 | channel << 4), 0x0000];
    spi::device(0, 0).with_speed(1_000_000).transfer_in_place(&mut words)?;
    Ok((words[0] & 0x03) << 8 | words[1] >> 8)
}

fn serve(request: http::Request) -> HandlerResult<http::Response> {
    let channel = request.path.strip_prefix("/adc/").and_then(|n| n.parse::<u8>().ok()).filter(|&n| n < 8);
    let Some(channel) = channel.filter(|_| request.method == "GET") else {
        return Ok(http::Response::not_found().with_text("try GET /adc/0 to /adc/7"));
    };
    let single_ended = request.query("differential").is_none();
    let converted = match request.query("words").as_deref() {
        Some("16") => convert_in_words(channel, single_ended),
        _ => convert(channel, single_ended),
    };
    Ok(match converted {
        Ok(code) => {
            let volts = f64::from(code) * VREF / 1024.0;
            http::Response::ok().with_json(format!(r#"{{"channel":{channel},"code":{code},"volts":{volts:.3}}}"#))
        }
        Err(e) => http::Response::new(502).with_text(e.to_string()),
    })
}
