//! Temperatures (sysinfo) and the battery (the kernel's power-supply class).

use lifeline_shared::wire::Temperature;
use sysinfo::Components;

pub(super) use imp::battery;

/// Sensors without a reading are left out; sorted by label so unchanged hardware compares equal.
pub(super) fn temperatures(components: &mut Components) -> Vec<Temperature> {
    components.refresh(true);
    let mut list: Vec<Temperature> = components
        .iter()
        .filter_map(|c| {
            let celsius = c.temperature().filter(|t| t.is_finite())?;
            Some(Temperature { label: c.label().to_owned(), celsius, critical_celsius: c.critical() })
        })
        .collect();
    list.sort_by(|a, b| a.label.cmp(&b.label));
    list
}

#[cfg(target_os = "linux")]
mod imp {
    use std::path::Path;

    use lifeline_shared::wire::Battery;

    const POWER_SUPPLY: &str = "/sys/class/power_supply";

    /// The first system battery by name. Mice and headsets also appear as batteries, with scope "Device"; they are
    /// not what runs the computer. No battery at all is a desktop, not a problem.
    pub(in crate::collect) fn battery(problems: &mut Vec<String>) -> Option<Battery> {
        let mut dirs: Vec<_> = std::fs::read_dir(POWER_SUPPLY).ok()?.filter_map(|e| Some(e.ok()?.path())).collect();
        dirs.sort();
        let dir = dirs
            .into_iter()
            .find(|d| read(d, "type").as_deref() == Some("Battery") && read(d, "scope").as_deref() != Some("Device"))?;
        let (Some(capacity), Some(status)) = (read(&dir, "capacity"), read(&dir, "status")) else {
            problems.push(format!("battery: cannot read capacity and status in {}", dir.display()));
            return None;
        };
        let wear = ["energy", "charge"]
            .into_iter()
            .find_map(|unit| Some((read(&dir, &format!("{unit}_full"))?, read(&dir, &format!("{unit}_full_design"))?)));
        let battery = parse_battery(&capacity, &status, wear.as_ref().map(|(f, d)| (f.as_str(), d.as_str())));
        if battery.is_none() {
            problems.push(format!("battery: unreadable capacity {capacity:?} in {}", dir.display()));
        }
        battery
    }

    fn read(dir: &Path, file: &str) -> Option<String> {
        std::fs::read_to_string(dir.join(file)).ok().map(|s| s.trim().to_owned())
    }

    /// `full_and_design` is `energy_full`/`energy_full_design` (µWh) or the `charge_` pair (µAh): either ratio is the
    /// share of its original capacity the battery still holds.
    fn parse_battery(capacity: &str, status: &str, full_and_design: Option<(&str, &str)>) -> Option<Battery> {
        let percent: f32 = capacity.trim().parse().ok()?;
        let health_pct = full_and_design.and_then(|(full, design)| {
            let (full, design) = (full.trim().parse::<f64>().ok()?, design.trim().parse::<f64>().ok()?);
            (design > 0.0).then(|| (full * 100.0 / design) as f32)
        });
        Some(Battery { percent, charging: status.trim() == "Charging", health_pct })
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn battery_files() {
            let battery = |percent, charging, health_pct| Some(Battery { percent, charging, health_pct });
            let cases = [
                (("87\n", "Discharging\n", Some(("42000000\n", "50000000\n"))), battery(87.0, false, Some(84.0))),
                (("5", "Charging", None), battery(5.0, true, None)),
                (("100", "Full", Some(("1", "0"))), battery(100.0, false, None)),
                (("100", "Not charging", Some(("x", "1"))), battery(100.0, false, None)),
                (("", "Discharging", None), None),
            ];
            for ((capacity, status, wear), expected) in cases {
                assert_eq!(parse_battery(capacity, status, wear), expected, "for {capacity:?} {status:?} {wear:?}");
            }
        }
    }
}

#[cfg(not(target_os = "linux"))]
mod imp {
    use lifeline_shared::wire::Battery;

    pub(in crate::collect) fn battery(problems: &mut Vec<String>) -> Option<Battery> {
        problems.push("battery: not supported on this OS".to_owned());
        None
    }
}
