//! Sprig's hermetic date functions: `toDate`/`mustToDate` (Go reference layouts such as
//! `2006-01-02T15:04:05Z07:00`, in UTC as in a container without a time zone), `unixEpoch`,
//! `ago`, `dateModify`/`mustDateModify`/`must_date_modify`. Times are Go `time.Time` values
//! printed as Go prints them.

use jiff::Timestamp;
use jiff::tz::{Offset, TimeZone};

use crate::functions::{Func, FuncError, arity, string};
use crate::value::{Struct, Value};

use super::floats::{go_duration, parse_go_duration};
use super::layout::parse;

pub(super) const MONTHS: [&str; 12] = [
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
