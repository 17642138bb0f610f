//! Device profiles and udev rules agree: every profile has a rule and every rule a
//! profile; each rule line is well-formed udev syntax; and `devices list` finds devices in
//! a fake /dev and /sys and names their profile.

use std::collections::BTreeSet;

use konbini_devices::profiles::Profiles;

use crate::common::{repo, tempdir};

/// Rule lines with backslash continuations joined, comments and blanks dropped.
fn rule_lines(text: &str) -> Vec<String> {
    let mut lines = Vec::new();
    let mut current = String::new();
    for raw in text.lines() {
        let line = raw.trim();
        if current.is_empty() && (line.is_empty() || line.starts_with('#')) {
            continue;
        }
        if let Some(head) = line.strip_suffix('\\') {
            current.push_str(head);
            current.push(' ');
        } else {
            current.push_str(line);
            lines.push(std::mem::take(&mut current));
        }
    }
    assert!(current.is_empty(), "a rule ends in a continuation");
    lines
}

/// `KEY[{attr}]OP"value"` items separated by commas, as udev(7) describes them.
fn parse_rule(line: &str) -> Result<Vec<(String, String, String)>, String> {
    const MATCH: [&str; 2] = ["==", "!="];
    const ASSIGN: [&str; 4] = ["=", "+=", "-=", ":="];
    const MATCH_KEYS: [&str; 9] = [
        "ACTION",
        "SUBSYSTEM",
        "SUBSYSTEMS",
        "KERNEL",
        "KERNELS",
        "ATTRS",
        "ATTR",
        "ENV",
        "DRIVERS",
    ];
    const ASSIGN_KEYS: [&str; 7] = ["SYMLINK", "GROUP", "MODE", "OWNER", "ENV", "GOTO", "LABEL"];
    let mut items = Vec::new();
    let mut rest = line.trim();
    while !rest.is_empty() {
        let key_end = rest
            .find(|c: char| !(c.is_ascii_uppercase() || c == '_'))
            .ok_or("no operator")?;
        let key = &rest[..key_end];
        rest = &rest[key_end..];
        let mut full_key = key.to_owned();
        if let Some(attr) = rest.strip_prefix('{') {
            let close = attr.find('}').ok_or("unclosed {")?;
            let name = &attr[..close];
            if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
                return Err(format!("bad attribute name {name:?}"));
            }
            full_key = format!("{key}{{{name}}}");
            rest = &attr[close + 1..];
        }
        let op = ["==", "!=", "+=", "-=", ":=", "="]
            .into_iter()
            .find(|op| rest.starts_with(op))
            .ok_or_else(|| format!("no operator after {full_key}"))?;
        rest = &rest[op.len()..];
        let is_match = MATCH.contains(&op);
        let known = if is_match {
            MATCH_KEYS.contains(&key)
        } else {
            ASSIGN.contains(&op) && ASSIGN_KEYS.contains(&key)
        };
        if !known {
            return Err(format!(
                "{full_key}{op} is not a valid udev key and operator"
            ));
        }
        let value = rest
            .strip_prefix('"')
            .ok_or_else(|| format!("{full_key}: value not quoted"))?;
        let close = value.find('"').ok_or("unclosed quote")?;
        items.push((full_key, op.to_owned(), value[..close].to_owned()));
        rest = value[close + 1..].trim_start();
        if let Some(after) = rest.strip_prefix(',') {
            rest = after.trim_start();
            if rest.is_empty() {
                return Err("trailing comma".into());
            }
        } else if !rest.is_empty() {
            return Err(format!("expected a comma before {rest:?}"));
        }
    }
    Ok(items)
}

#[test]
fn the_validator_refuses_broken_rules() {
    assert!(parse_rule(r#"SUBSYSTEM=="tty", GROUP="dialout""#).is_ok());
    for bad in [
        r#"SUBSYSTEM="=tty""#,
        r#"SUBSYSTEM=="tty" GROUP="dialout""#,
        r#"SUBSYSTEM=="tty", "#,
        r#"SYMLINK=="x""#,
        r#"ATTRS{idVendor=="05e0""#,
        r#"FOO=="bar""#,
        r#"GROUP=dialout"#,
    ] {
        assert!(parse_rule(bad).is_err(), "{bad}");
    }
}

#[test]
fn every_profile_has_a_rule_and_every_rule_a_profile() {
    let profiles = Profiles::load(&repo().join("hardware")).unwrap();
    assert!(
        profiles.scanners.len() >= 3 && profiles.printers.len() >= 2 && !profiles.heads.is_empty()
    );
    let mut files: Vec<_> = std::fs::read_dir(repo().join("udev"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "rules"))
        .collect();
    files.sort();
    assert!(!files.is_empty());
    let mut ruled = BTreeSet::new();
    for file in files {
        let name = file.file_name().unwrap().to_str().unwrap().to_owned();
        let number: u32 = name[..2]
            .parse()
            .expect("rules files start with their number");
        assert!(
            number < 80,
            "{name} must run before ModemManager's 80-mm-candidate.rules"
        );
        for line in rule_lines(&std::fs::read_to_string(&file).unwrap()) {
            let items = parse_rule(&line).unwrap_or_else(|e| panic!("{name}: {e}: {line}"));
            let get = |k: &str| {
                items
                    .iter()
                    .find(|(key, _, _)| key == k)
                    .map(|(_, _, v)| v.clone())
            };
            let (Some(vendor), Some(product)) = (get("ATTRS{idVendor}"), get("ATTRS{idProduct}"))
            else {
                continue;
            };
            let id = format!("{vendor}:{product}");
            let profile = profiles
                .name_of(&id)
                .unwrap_or_else(|| panic!("{name}: no profile for {id}"));
            let symlink = get("SYMLINK").expect("a stable name");
            assert!(get("GROUP").is_some() && get("MODE").is_some(), "{line}");
            if let Some(s) = profiles.scanners.iter().find(|s| s.name == profile) {
                assert_eq!(symlink, s.stable_name);
                assert_eq!(
                    get("ENV{ID_MM_DEVICE_IGNORE}").as_deref(),
                    Some("1"),
                    "ModemManager must leave {profile} alone"
                );
            }
            if let Some(p) = profiles.printers.iter().find(|p| p.name == profile) {
                assert_eq!(symlink, p.stable_name);
            }
            ruled.insert(profile.to_owned());
        }
    }
    let all: BTreeSet<String> = profiles
        .scanners
        .iter()
        .map(|s| s.name.clone())
        .chain(profiles.printers.iter().map(|p| p.name.clone()))
        .collect();
    assert_eq!(ruled, all, "profiles without a udev rule");
}

#[test]
fn a_broken_profile_names_its_file() {
    let dir = tempdir();
    std::fs::create_dir(dir.path().join("scanners")).unwrap();
    std::fs::write(
        dir.path().join("scanners/x.toml"),
        "[scanner]\nname = \"x\"\nbaud = \"fast\"\n",
    )
    .unwrap();
    let err = Profiles::load(dir.path()).unwrap_err().to_string();
    assert!(err.contains("scanners/x.toml"), "{err}");
}

#[test]
fn devices_list_finds_ports_their_names_and_profiles() {
    let root = tempdir();
    let r = root.path();
    // A USB CDC scanner at ttyACM0 with udev's names, and a USB printer at lp0.
    let usb = r.join("sys/devices/pci0000:00/usb1/1-1");
    std::fs::create_dir_all(usb.join("1-1:1.0/tty/ttyACM0")).unwrap();
    std::fs::write(usb.join("idVendor"), "05e0\n").unwrap();
    std::fs::write(usb.join("idProduct"), "1701\n").unwrap();
    std::fs::create_dir_all(r.join("sys/class/tty/ttyACM0")).unwrap();
    std::os::unix::fs::symlink(usb.join("1-1:1.0"), r.join("sys/class/tty/ttyACM0/device"))
        .unwrap();
    std::fs::create_dir_all(r.join("dev/konbini")).unwrap();
    std::fs::create_dir_all(r.join("dev/usb")).unwrap();
    std::fs::write(r.join("dev/ttyACM0"), "").unwrap();
    std::fs::write(r.join("dev/usb/lp0"), "").unwrap();
    std::os::unix::fs::symlink(r.join("dev/ttyACM0"), r.join("dev/konbini/scanner")).unwrap();
    let profiles = Profiles::load(&repo().join("hardware")).unwrap();
    let found = konbini_pos::devices::list(r, &profiles);
    assert_eq!(found.len(), 2, "{found:?}");
    assert_eq!(found[0].kind, "serial");
    assert_eq!(found[0].usb_id.as_deref(), Some("05e0:1701"));
    assert_eq!(found[0].profile.as_deref(), Some("zebra-cdc"));
    assert_eq!(found[0].names, vec![r.join("dev/konbini/scanner")]);
    assert_eq!(found[1].kind, "printer");
    assert_eq!(found[1].profile, None);
}

#[test]
fn a_scanner_profile_configures_the_reader() {
    let profiles = Profiles::load(&repo().join("hardware")).unwrap();
    let opticon = profiles
        .scanners
        .iter()
        .find(|s| s.name == "opticon-nlv1001")
        .unwrap();
    let config = opticon.reader_config(std::path::Path::new("/dev/konbini/scanner"));
    assert_eq!(config.debounce, std::time::Duration::from_millis(700));
    assert_eq!(config.baud, 9600);
    assert_eq!(config.framing, konbini_devices::scanner::Framing::Line);
    let mut stx = opticon.clone();
    stx.suffix = konbini_devices::scanner::sim::Suffix::StxEtx;
    assert_eq!(
        stx.reader_config(std::path::Path::new("/x")).framing,
        konbini_devices::scanner::Framing::StxEtx
    );
}
