//! CronJob schedules: five-field cron expressions and `@hourly`-style macros, in a time zone.

use crate::time::Time;
use chrono::{TimeZone, Utc};
use croner::parser::{CronParser, Seconds, Year};

/// A parsed schedule in a time zone.
///
/// ```
/// use themelios_api::schedule::Schedule;
/// use themelios_api::Time;
/// let s = Schedule::parse("*/15 * * * *", None).unwrap();
/// assert_eq!(s.next_after(Time(0)), Some(Time(900)));
/// assert!(Schedule::parse("61 * * * *", None).is_err());
/// assert!(Schedule::parse("0 9 * * *", Some("Mars/Olympus_Mons")).is_err());
/// ```
#[derive(Clone, Debug)]
pub struct Schedule {
    cron: croner::Cron,
    zone: chrono_tz::Tz,
}

/// Why a schedule or time zone cannot be used.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleError {
    /// The cron expression is malformed.
    #[error("{0}")]
    Schedule(String),
    /// The time zone is unknown.
    #[error("unknown time zone {0}")]
    TimeZone(String),
}

/// The fewest digits a CronJob's Job name ends in: minutes since the Unix epoch have eight from 1990 on.
const SCHEDULED_MINUTE_DIGITS: usize = 7;

/// Splits a CronJob's Job name — `<cron job>-<scheduled minute since the Unix epoch>`, as the CronJob
/// controller names it — into the CronJob's name and the scheduled time. The minute has at least seven
/// digits and no leading zero (upstream writes it so; another spelling is another name).
///
/// ```
/// use themelios_api::schedule::scheduled_job_name;
/// use themelios_api::Time;
/// assert_eq!(scheduled_job_name("report-28928161"), Some(("report", Time(28_928_161 * 60))));
/// assert_eq!(scheduled_job_name("db-1"), None);
/// assert_eq!(scheduled_job_name("report-028928161"), None);
/// ```
pub fn scheduled_job_name(job: &str) -> Option<(&str, Time)> {
    let (cron_job, digits) = job.rsplit_once('-')?;
    let plain = digits.len() >= SCHEDULED_MINUTE_DIGITS
        && digits.bytes().all(|b| b.is_ascii_digit())
        && !digits.starts_with('0');
    let minutes: i64 = digits.parse().ok().filter(|_| plain)?;
    Some((cron_job, Time(minutes.checked_mul(60)?)))
}

impl Schedule {
    /// Parses a five-field expression (or a macro such as `@hourly`) in `zone` (UTC when `None`).
    pub fn parse(expression: &str, zone: Option<&str>) -> Result<Self, ScheduleError> {
        let trimmed = expression.trim();
        if trimmed.starts_with("TZ=") || trimmed.starts_with("CRON_TZ=") {
            return Err(ScheduleError::Schedule(
                "cannot use TZ or CRON_TZ in schedule, use timeZone field instead".into(),
            ));
        }
        // The field count is checked first, as upstream's parser (robfig/cron) does and words it.
        if !trimmed.starts_with('@') {
            let fields: Vec<&str> = trimmed.split_whitespace().collect();
            if fields.len() != 5 {
                return Err(ScheduleError::Schedule(format!(
                    "expected exactly 5 fields, found {}: [{}]",
                    fields.len(),
                    fields.join(" ")
                )));
            }
        }
        let parser = CronParser::builder().seconds(Seconds::Disallowed).year(Year::Disallowed).build();
        let cron = parser.parse(trimmed).map_err(|e| ScheduleError::Schedule(e.to_string()))?;
        let zone = match zone {
            None => chrono_tz::UTC,
            Some(name) => name.parse().map_err(|_| ScheduleError::TimeZone(name.to_string()))?,
        };
        Ok(Self { cron, zone })
    }

    /// The shortest time after which the schedule repeats, if it repeats within a UTC day: its
    /// day-of-month, month and day-of-week fields are `*` (or it is `@hourly`, `@daily`, `@midnight`) and
    /// its zone is UTC. The period divides a day, so shifting every time by whole periods keeps both the
    /// firing times and the calendar phase (Unix time 0 is a UTC midnight).
    ///
    /// ```
    /// use themelios_api::schedule::Schedule;
    /// assert_eq!(Schedule::period("*/1 * * * *", None), Some(60));
    /// assert_eq!(Schedule::period("*/15 * * * *", Some("UTC")), Some(900));
    /// assert_eq!(Schedule::period("*/7 * * * *", None), Some(3600));
    /// assert_eq!(Schedule::period("30 9,21 * * *", None), Some(43_200));
    /// assert_eq!(Schedule::period("@daily", None), Some(86_400));
    /// assert_eq!(Schedule::period("0 9 * * 1", None), None);
    /// assert_eq!(Schedule::period("0 9 * * *", Some("Europe/Paris")), None);
    /// ```
    pub fn period(expression: &str, zone: Option<&str>) -> Option<i64> {
        const DAY: i64 = 86_400;
        if zone.is_some_and(|z| z != "UTC" && z != "Etc/UTC") {
            return None;
        }
        let trimmed = expression.trim();
        let daily = match trimmed {
            "@hourly" | "@daily" | "@midnight" => true,
            macro_ if macro_.starts_with('@') => false,
            fields => {
                let fields: Vec<&str> = fields.split_whitespace().collect();
                fields.len() == 5 && fields[2..].iter().all(|f| *f == "*" || *f == "?")
            }
        };
        let schedule = Self::parse(trimmed, None).ok().filter(|_| daily)?;
        let mut firings = Vec::new();
        let mut cursor = Time(-1);
        while let Some(next) = schedule.next_after(cursor).filter(|t| t.0 < DAY) {
            firings.push(next.0);
            cursor = next;
        }
        firings.first()?;
        // The shortest shift that maps the day's firings onto themselves (it divides the day).
        (60..=DAY)
            .step_by(60)
            .filter(|p| DAY % p == 0)
            .find(|p| firings.iter().all(|t| firings.binary_search(&((t + p) % DAY)).is_ok()))
    }

    /// The first scheduled time strictly after `t`.
    pub fn next_after(&self, t: Time) -> Option<Time> {
        let start = self.zone.from_utc_datetime(&Utc.timestamp_opt(t.0, 0).single()?.naive_utc());
        self.cron.find_next_occurrence(&start, false).ok().map(|next| Time(next.timestamp()))
    }

    /// The latest scheduled time at or before `t`.
    pub fn latest_at_or_before(&self, t: Time) -> Option<Time> {
        let start = self.zone.from_utc_datetime(&Utc.timestamp_opt(t.0, 0).single()?.naive_utc());
        self.cron.find_previous_occurrence(&start, true).ok().map(|prev| Time(prev.timestamp()))
    }

    /// The scheduled times in `(after, until]`: how many there are (counting no further than `cap`), and
    /// the latest.
    ///
    /// ```
    /// use themelios_api::schedule::Schedule;
    /// use themelios_api::Time;
    /// let s = Schedule::parse("@hourly", None).unwrap();
    /// assert_eq!(s.missed(Time(0), Time(3 * 3600 + 5), 100), (3, Some(Time(3 * 3600))));
    /// assert_eq!(s.missed(Time(0), Time(1000 * 3600), 100).0, 100);
    /// ```
    pub fn missed(&self, after: Time, until: Time, cap: usize) -> (usize, Option<Time>) {
        let latest = self.latest_at_or_before(until).filter(|t| *t > after);
        let mut count = 0;
        let mut cursor = after;
        while count < cap {
            match self.next_after(cursor) {
                Some(next) if next <= until => {
                    count += 1;
                    cursor = next;
                }
                _ => break,
            }
        }
        (count, latest)
    }
}
