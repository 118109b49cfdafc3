//! Go's `time.Parse` for Sprig's `toDate`: the reference-layout elements (`2006`, `01`, `Jan`,
//! `02`, `15`, `03`, `PM`, `04`, `05`, `.000`, `MST`, `-07:00`, `Z07:00`, ...) matched against
//! the text, giving the instant, its UTC offset and a zone name Go does not know (pure).

use jiff::Timestamp;
use jiff::civil::DateTime;
use jiff::tz::{Offset, TimeZone};

use super::dates::MONTHS;

struct Parsed {
    year: i16,
    month: i8,
    day: i8,
    hour: i8,
    minute: i8,
    second: i8,
    nanos: i32,
    pm: Option<bool>,
    offset: i32,
    zone: Option<String>,
}

fn take_number(value: &mut &str, min: usize, max: usize) -> Result<i64, String> {
    let digits = value
        .bytes()
        .take(max)
        .take_while(u8::is_ascii_digit)
        .count();
    if digits < min {
        return Err(format!("cannot parse {value:?}"));
    }
    let n = value[..digits]
        .parse()
        .map_err(|_| format!("cannot parse {value:?}"))?;
    *value = &value[digits..];
    Ok(n)
}

fn take_word(value: &mut &str, words: &[&str]) -> Result<usize, String> {
    for (i, w) in words.iter().enumerate() {
        if value
            .get(..w.len())
            .is_some_and(|head| head.eq_ignore_ascii_case(w))
        {
            *value = &value[w.len()..];
            return Ok(i);
        }
    }
    Err(format!("cannot parse {value:?}"))
}

fn take_offset(value: &mut &str, colon: bool, seconds: bool, z: bool) -> Result<i32, String> {
    if z && value.starts_with('Z') {
        *value = &value[1..];
        return Ok(0);
    }
    let sign = match value.chars().next() {
        Some('+') => 1,
        Some('-') => -1,
        _ => return Err(format!("cannot parse {value:?} as an offset")),
    };
    *value = &value[1..];
    let h = take_number(value, 2, 2)?;
    let mut m = 0;
    let mut s = 0;
    if colon && value.starts_with(':')
        || !colon && value.bytes().next().is_some_and(|b| b.is_ascii_digit())
    {
        if colon {
            *value = &value[1..];
        }
        m = take_number(value, 2, 2)?;
        if seconds {
            if colon {
                *value = value
                    .strip_prefix(':')
                    .ok_or("cannot parse offset seconds")?;
            }
            s = take_number(value, 2, 2)?;
        }
    }
    Ok(sign * (h * 3600 + m * 60 + s) as i32)
}

/// Go's `time.Parse` for the common layout elements.
pub(super) fn parse(layout: &str, text: &str) -> Result<(Timestamp, i32, Option<String>), String> {
    let mut p = Parsed {
        year: 1,
        month: 1,
        day: 1,
        hour: 0,
        minute: 0,
        second: 0,
        nanos: 0,
        pm: None,
        offset: 0,
        zone: None,
    };
    let (mut layout, mut value) = (layout, text);
    let short_months: Vec<&str> = MONTHS.iter().map(|m| &m[..3]).collect();
    let days = [
        "Monday",
        "Tuesday",
        "Wednesday",
        "Thursday",
        "Friday",
        "Saturday",
        "Sunday",
    ];
    let short_days: Vec<&str> = days.iter().map(|d| &d[..3]).collect();
    while !layout.is_empty() {
        let chunk = [
            "January",
            "Jan",
            "Monday",
            "Mon",
            "MST",
            "2006",
            "-07:00:00",
            "-070000",
            "-07:00",
            "-0700",
            "-07",
            "Z07:00:00",
            "Z070000",
            "Z07:00",
            "Z0700",
            "Z07",
            "002",
            "01",
            "02",
            "03",
            "04",
            "05",
            "06",
            "_2",
            "15",
            "PM",
            "pm",
            "1",
            "2",
            "3",
            "4",
            "5",
        ]
        .into_iter()
        .find(|c| layout.starts_with(c));
        let fraction = (layout.starts_with(".0")
            || layout.starts_with(".9")
            || layout.starts_with(",0")
            || layout.starts_with(",9"))
        .then(|| {
            1 + layout[1..]
                .bytes()
                .take_while(|b| *b == b'0' || *b == b'9')
                .count()
        });
        if let Some(len) = fraction {
            let optional = layout.as_bytes()[1] == b'9';
            layout = &layout[len..];
            if value.starts_with(['.', ',']) {
                value = &value[1..];
                let digits = value.bytes().take_while(u8::is_ascii_digit).count();
                let frac = &value[..digits.min(9)];
                p.nanos = format!("{frac:0<9}").parse().unwrap_or(0);
                value = &value[digits..];
            } else if !optional {
                return Err(format!("cannot parse {value:?} as fractional seconds"));
            }
            continue;
        }
        let Some(chunk) = chunk else {
            let c = layout.chars().next().unwrap_or(' ');
            if !value.starts_with(c) {
                return Err(format!("cannot parse {value:?} as {layout:?}"));
            }
            layout = &layout[c.len_utf8()..];
            value = &value[c.len_utf8()..];
            continue;
        };
        layout = &layout[chunk.len()..];
        match chunk {
            "January" => p.month = take_word(&mut value, &MONTHS)? as i8 + 1,
            "Jan" => p.month = take_word(&mut value, &short_months)? as i8 + 1,
            "Monday" => {
                take_word(&mut value, &days)?;
            }
            "Mon" => {
                take_word(&mut value, &short_days)?;
            }
            "MST" => {
                let n = value.bytes().take_while(u8::is_ascii_alphabetic).count();
                if n < 3 {
                    return Err(format!("cannot parse {value:?} as \"MST\""));
                }
                // An abbreviation Go does not know is kept as the zone's name, at offset 0.
                p.zone = Some(value[..n].to_string()).filter(|z| z != "UTC");
                value = &value[n..];
            }
            "2006" => p.year = take_number(&mut value, 4, 4)? as i16,
            "06" => {
                // Go's two-digit years: 69-99 are 1969-1999, 00-68 are 2000-2068.
                let n = take_number(&mut value, 2, 2)? as i16;
                p.year = if n >= 69 { 1900 + n } else { 2000 + n };
            }
            "01" => p.month = take_number(&mut value, 2, 2)? as i8,
            "1" => p.month = take_number(&mut value, 1, 2)? as i8,
            "02" => p.day = take_number(&mut value, 2, 2)? as i8,
            "2" => p.day = take_number(&mut value, 1, 2)? as i8,
            "_2" => {
                value = value.strip_prefix(' ').unwrap_or(value);
                p.day = take_number(&mut value, 1, 2)? as i8;
            }
            "002" => {
                take_number(&mut value, 3, 3)?;
            }
            "15" => p.hour = take_number(&mut value, 1, 2)? as i8,
            "03" => p.hour = take_number(&mut value, 2, 2)? as i8,
            "3" => p.hour = take_number(&mut value, 1, 2)? as i8,
            "04" => p.minute = take_number(&mut value, 2, 2)? as i8,
            "4" => p.minute = take_number(&mut value, 1, 2)? as i8,
            "05" => p.second = take_number(&mut value, 2, 2)? as i8,
            "5" => p.second = take_number(&mut value, 1, 2)? as i8,
            "PM" | "pm" => p.pm = Some(take_word(&mut value, &["PM", "AM"])? == 0),
            "-07:00:00" => p.offset = take_offset(&mut value, true, true, false)?,
            "-070000" => p.offset = take_offset(&mut value, false, true, false)?,
            "-07:00" => p.offset = take_offset(&mut value, true, false, false)?,
            "-0700" | "-07" => p.offset = take_offset(&mut value, false, false, false)?,
            "Z07:00:00" => p.offset = take_offset(&mut value, true, true, true)?,
            "Z070000" => p.offset = take_offset(&mut value, false, true, true)?,
            "Z07:00" => p.offset = take_offset(&mut value, true, false, true)?,
            _ => p.offset = take_offset(&mut value, false, false, true)?,
        }
    }
    if !value.is_empty() {
        return Err(format!("extra text: {value:?}"));
    }
    if let Some(pm) = p.pm {
        p.hour = (p.hour % 12) + if pm { 12 } else { 0 };
    }
    for (value, range, name) in [
        (p.month, 1..=12, "month"),
        (p.day, 1..=31, "day"),
        (p.hour, 0..=23, "hour"),
        (p.minute, 0..=59, "minute"),
        (p.second, 0..=59, "second"),
    ] {
        if !range.contains(&value) {
            return Err(format!("{name} out of range"));
        }
    }
    let civil = DateTime::new(p.year, p.month, p.day, p.hour, p.minute, p.second, p.nanos)
        .map_err(|e| e.to_string())?;
    let offset = Offset::from_seconds(p.offset).map_err(|e| e.to_string())?;
    let at = civil
        .to_zoned(TimeZone::fixed(offset))
        .map_err(|e| e.to_string())?
        .timestamp();
    Ok((at, p.offset, p.zone))
}
