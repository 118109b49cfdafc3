//! Sprig's hermetic date functions: `toDate`/`mustToDate` (Go reference layouts such as
//! `2006-01-02T15:04:05Z07:00`, in UTC as in a container without a time zone), `unixEpoch`,
//! `ago`, `dateModify`/`mustDateModify`/`must_date_modify`. Times are Go `time.Time` values
//! printed as Go prints them.

use jiff::Timestamp;
use jiff::civil::DateTime;
use jiff::tz::{Offset, TimeZone};

use crate::functions::{Func, FuncError, arity, string};
use crate::value::{Struct, Value};

use super::numbers::{go_duration, parse_go_duration};

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

/// A `time.Time` value: its instant and UTC offset.
pub(super) fn time_value(at: Timestamp, offset_seconds: i32, zone: Option<&str>) -> Value {
    let offset = Offset::from_seconds(offset_seconds).unwrap_or(Offset::UTC);
    let zoned = at.to_zoned(TimeZone::fixed(offset));
    let nanos = zoned.subsec_nanosecond();
    let fraction = if nanos == 0 {
        String::new()
    } else {
        format!(".{nanos:09}").trim_end_matches('0').to_string()
    };
    let sign = if offset_seconds < 0 { '-' } else { '+' };
    let abs = offset_seconds.unsigned_abs();
    let numeric = format!("{sign}{:02}{:02}", abs / 3600, abs % 3600 / 60);
    let name = match zone {
        Some(z) => z.to_string(),
        None if offset_seconds == 0 => "UTC".to_string(),
        None => numeric.clone(),
    };
    let display = format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}{fraction} {numeric} {name}",
        zoned.year(),
        zoned.month(),
        zoned.day(),
        zoned.hour(),
        zoned.minute(),
        zoned.second()
    );
    let month = MONTHS[usize::try_from(zoned.month() - 1).unwrap_or(0)];
    Value::structure(Struct {
        type_name: "time.Time".into(),
        fields: Vec::new(),
        methods: vec![
            ("Unix".into(), Value::Int(at.as_second())),
            ("UnixNano".into(), Value::Int(at.as_nanosecond() as i64)),
            ("Nanosecond".into(), Value::Int(i64::from(nanos))),
            ("Year".into(), Value::Int(i64::from(zoned.year()))),
            ("Month".into(), Value::str(month)),
            ("Day".into(), Value::Int(i64::from(zoned.day()))),
            ("Hour".into(), Value::Int(i64::from(zoned.hour()))),
            ("Minute".into(), Value::Int(i64::from(zoned.minute()))),
            ("Second".into(), Value::Int(i64::from(zoned.second()))),
            ("YearDay".into(), Value::Int(i64::from(zoned.day_of_year()))),
            (
                "Weekday".into(),
                Value::str(format!("{:?}", zoned.weekday())),
            ),
            ("_offset".into(), Value::Int(i64::from(offset_seconds))),
        ],
        display: Some(display),
    })
}

/// The instant and offset of a `time.Time` value.
fn instant(v: &Value) -> Result<(Timestamp, i32), FuncError> {
    let Value::Struct(s) = v else {
        return Err(FuncError::Type {
            expected: "time.Time",
            got: v.type_name(),
        });
    };
    let number = |name: &str| match s.member(name) {
        Some(Value::Int(i)) => Ok(i),
        _ => Err(FuncError::Type {
            expected: "time.Time",
            got: v.type_name(),
        }),
    };
    let at = Timestamp::new(
        number("Unix")?,
        i32::try_from(number("Nanosecond")?).unwrap_or(0),
    )
    .map_err(|e| FuncError::Call(e.to_string()))?;
    Ok((at, i32::try_from(number("_offset")?).unwrap_or(0)))
}

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
fn parse(layout: &str, text: &str) -> Result<(Timestamp, i32, Option<String>), String> {
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

fn to_date(a: &[Value], must: bool) -> Result<Value, FuncError> {
    arity(a, 2)?;
    match parse(string(&a[0])?, string(&a[1])?) {
        Ok((at, offset, zone)) => Ok(time_value(at, offset, zone.as_deref())),
        Err(e) if must => {
            let (layout, text) = (string(&a[0])?, string(&a[1])?);
            Err(FuncError::Call(if e.ends_with("out of range") {
                format!("parsing time {text:?}: {e}")
            } else {
                format!("parsing time {text:?} as {layout:?}: {e}")
            }))
        }
        // Sprig's `toDate` ignores the error: Go's zero time.
        Err(_) => Ok(time_value(
            Timestamp::new(-62_135_596_800, 0).unwrap_or(Timestamp::UNIX_EPOCH),
            0,
            None,
        )),
    }
}

fn date_modify(a: &[Value], must: bool) -> Result<Value, FuncError> {
    arity(a, 2)?;
    let (at, offset) = instant(&a[1])?;
    match parse_go_duration(string(&a[0])?) {
        Some(nanos) => {
            let moved = at
                .checked_add(jiff::SignedDuration::from_nanos(nanos))
                .map_err(|e| FuncError::Call(e.to_string()))?;
            Ok(time_value(moved, offset, None))
        }
        None if must => Err(FuncError::Call(format!(
            "time: invalid duration {:?}",
            string(&a[0])?
        ))),
        None => Ok(a[1].clone()),
    }
}

pub(super) fn functions() -> Vec<(&'static str, Func)> {
    vec![
        ("toDate", |a| to_date(a, false)),
        ("mustToDate", |a| to_date(a, true)),
        ("unixEpoch", |a| {
            arity(a, 1)?;
            Ok(Value::Str(instant(&a[0])?.0.as_second().to_string()))
        }),
        ("ago", |a| {
            arity(a, 1)?;
            let then = match &a[0] {
                Value::Int(i) => Timestamp::new(*i, 0).unwrap_or(Timestamp::UNIX_EPOCH),
                Value::Struct(_) => instant(&a[0])?.0,
                _ => Timestamp::now(),
            };
            let seconds = Timestamp::now().as_second() - then.as_second();
            Ok(Value::Str(go_duration(
                seconds.saturating_mul(1_000_000_000),
            )))
        }),
        ("dateModify", |a| date_modify(a, false)),
        ("mustDateModify", |a| date_modify(a, true)),
        ("must_date_modify", |a| date_modify(a, true)),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format;

    #[test]
    fn go_layouts_parse_and_print_as_go() {
        let show = |layout: &str, text: &str| {
            parse(layout, text)
                .map(|(at, off, zone)| format::value(&time_value(at, off, zone.as_deref()), false))
        };
        assert_eq!(
            show("2006-01-02", "2024-05-01").as_deref(),
            Ok("2024-05-01 00:00:00 +0000 UTC")
        );
        assert_eq!(
            show("2006-01-02T15:04:05Z07:00", "2024-05-01T13:45:10+02:00").as_deref(),
            Ok("2024-05-01 13:45:10 +0200 +0200")
        );
        assert_eq!(
            show("Jan 2, 2006 at 3:04pm (MST)", "Feb 3, 2013 at 7:54pm (PST)").as_deref(),
            Ok("2013-02-03 19:54:00 +0000 PST")
        );
        assert_eq!(
            show("2006-01-02 15:04:05.000", "2024-05-01 10:00:00.250").as_deref(),
            Ok("2024-05-01 10:00:00.25 +0000 UTC")
        );
        assert_eq!(
            show("02/01/06", "07/03/99").as_deref(),
            Ok("1999-03-07 00:00:00 +0000 UTC")
        );
        assert!(parse("2006-01-02", "May 1").is_err());
        assert!(parse("2006-01-02", "2024-13-01").is_err());
    }
}
