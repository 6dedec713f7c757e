//! The table test's checks: each reads some tables of the MSI and records every
//! mismatch with what culvert.wxs means, so one run tells them all.

use super::tables::{Record, Tables, long_name};
use super::wixl::ENVIRONMENT_ACTIONS;
use super::{PROGRAMS, TEST_BUILD_MARK, WINTUN, WXS, msi_version, output_echoed};
use std::collections::BTreeSet;
use std::fs;
use std::path::Path;
use std::process::Command;

/// `msidbServiceControlEvent`: Start="install" (1) | Stop="both" (Stop 2 | UninstallStop
/// 32) | Remove="uninstall" (UninstallDelete 128).
const SERVICE_EVENTS: i64 = 1 | 2 | 32 | 128;

/// The mismatches found.
#[derive(Debug, Default)]
pub(super) struct Problems(pub(super) Vec<String>);

impl std::fmt::Display for Problems {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for problem in &self.0 {
            writeln!(f, "  - {problem}")?;
        }
        Ok(())
    }
}

/// Records the formatted problem unless `$ok`.
macro_rules! expect {
    ($problems:expr, $ok:expr, $($message:tt)+) => {
        if !$ok {
            $problems.0.push(format!($($message)+));
        }
    };
}

/// A row of the File table.
#[derive(Debug)]
pub(super) struct FileRow {
    pub(super) name: String,
    pub(super) key: String,
    pub(super) component: String,
    pub(super) size: u64,
}

/// What the summary tells of the product.
#[derive(Debug)]
pub(super) struct Product {
    pub(super) name: String,
    pub(super) version: String,
}

/// The File table holds exactly the programs (and wintun.dll iff expected), each the key
/// path of a 64-bit component of a feature, in INSTALLDIR = ProgramFiles64Folder\Culvert.
pub(super) fn files(
    tables: &Tables,
    problems: &mut Problems,
    expect_wintun: bool,
) -> anyhow::Result<Vec<FileRow>> {
    let mut wanted: Vec<&str> = PROGRAMS.to_vec();
    if expect_wintun {
        wanted.push(WINTUN);
    }
    let files: Vec<FileRow> = tables
        .get("File", &["File", "Component_", "FileName", "FileSize"])?
        .records()
        .map(|r| FileRow {
            name: long_name(r.get("FileName")).to_owned(),
            key: r.get("File").to_owned(),
            component: r.get("Component_").to_owned(),
            size: r.get("FileSize").parse().unwrap_or(0),
        })
        .collect();
    for name in &wanted {
        let count = files.iter().filter(|f| f.name == *name).count();
        expect!(
            problems,
            count == 1,
            "File: {count} rows for {name}, expected 1"
        );
    }
    for file in files.iter().filter(|f| !wanted.contains(&f.name.as_str())) {
        if file.name == WINTUN {
            expect!(
                problems,
                false,
                "File: wintun.dll is in a build that was to be without it"
            );
        } else {
            expect!(problems, false, "File: unexpected {}", file.name);
        }
    }
    let components = tables.get(
        "Component",
        &["Component", "Directory_", "Attributes", "KeyPath"],
    )?;
    let features = tables.get("FeatureComponents", &["Feature_", "Component_"])?;
    for file in &files {
        let (name, id) = (&file.name, &file.component);
        let Some(component) = components.find("Component", id).first().copied() else {
            expect!(problems, false, "{name}: no component {id}");
            continue;
        };
        let directory = component.get("Directory_");
        expect!(
            problems,
            directory == "INSTALLDIR",
            "{name}: installed to {directory}"
        );
        let attributes = component.int("Attributes").unwrap_or(0);
        expect!(
            problems,
            attributes & 256 != 0,
            "{name}: component {id} is not 64-bit"
        );
        expect!(
            problems,
            component.get("KeyPath") == file.key,
            "{name}: not the key path of {id}"
        );
        let in_feature = !features.find("Component_", id).is_empty();
        expect!(
            problems,
            in_feature,
            "{name}: component {id} is in no feature"
        );
    }
    let directories = tables.get(
        "Directory",
        &["Directory", "Directory_Parent", "DefaultDir"],
    )?;
    let install = directories.find("Directory", "INSTALLDIR");
    let in_program_files = install.first().is_some_and(|d| {
        d.get("Directory_Parent") == "ProgramFiles64Folder"
            && long_name(d.get("DefaultDir")) == "Culvert"
    });
    expect!(
        problems,
        in_program_files,
        "Directory: INSTALLDIR is not ProgramFiles64Folder\\Culvert"
    );
    Ok(files)
}

/// Properties, the summary information (x64, per machine, Windows Installer 5) and the
/// upgrade rules: older versions removed before the install, newer ones refused.
pub(super) fn product(
    tables: &Tables,
    problems: &mut Problems,
    upgrade_code: &str,
    icon_source: &Path,
    expect_wintun: bool,
) -> anyhow::Result<Product> {
    let properties = tables.get("Property", &["Property", "Value"])?;
    let property = |name: &str| {
        properties
            .find("Property", name)
            .first()
            .map(|r| r.get("Value").to_owned())
    };
    let product = Product {
        name: property("ProductName").unwrap_or_default(),
        version: property("ProductVersion").unwrap_or_default(),
    };
    let code = property("UpgradeCode");
    expect!(
        problems,
        code.as_ref()
            .is_some_and(|c| c.eq_ignore_ascii_case(upgrade_code)),
        "Property: UpgradeCode is {code:?}, {WXS} says {upgrade_code}"
    );
    let all_users = property("ALLUSERS");
    expect!(
        problems,
        all_users.as_deref() == Some("1"),
        "Property: ALLUSERS is {all_users:?}, not 1 (per machine)"
    );
    let (name, version) = (&product.name, &product.version);
    expect!(
        problems,
        msi_version(version).is_ok(),
        "Property: ProductVersion `{version}` is not an MSI version"
    );
    let test_build = property("CULVERT_TEST_BUILD");
    if expect_wintun {
        expect!(
            problems,
            !name.contains(TEST_BUILD_MARK) && test_build.is_none(),
            "a build with wintun.dll is marked as a test build: `{name}`, {test_build:?}"
        );
    } else {
        expect!(
            problems,
            name.ends_with(TEST_BUILD_MARK) && test_build.as_deref() == Some("1"),
            "a build without wintun.dll must say so: ProductName `{name}`, \
             CULVERT_TEST_BUILD {test_build:?}"
        );
    }
    let icon = property("ARPPRODUCTICON").unwrap_or_default();
    let icons = tables.get("Icon", &["Name"])?;
    expect!(
        problems,
        !icons.find("Name", &icon).is_empty(),
        "ARPPRODUCTICON `{icon}` is not in the Icon table"
    );
    let stream = tables.stream("Icon", &icon);
    let same = fs::read(&stream).ok() == fs::read(icon_source).ok();
    expect!(
        problems,
        same,
        "Icon `{icon}` ({}) is not {}",
        stream.display(),
        icon_source.display()
    );

    let (suminfo, _) = output_echoed(
        Command::new("msiinfo").arg("suminfo").arg(&tables.msi),
        false,
    )?;
    let field = |name: &str| {
        suminfo
            .lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(": "))
            .unwrap_or("")
    };
    let number = |name: &str| field(name).split(' ').next()?.parse::<i64>().ok();
    let template = field("Template");
    expect!(
        problems,
        template.starts_with("x64;"),
        "summary: Template `{template}`, not x64"
    );
    // Word Count bit 8: "no privileges", a per-user package.
    let source = field("Source");
    expect!(
        problems,
        number("Source").is_some_and(|s| s & 8 == 0),
        "summary: Source (word count) `{source}` asks for no elevation"
    );
    // MsiShortcutProperty needs Windows Installer 5.0.
    let installer = field("Version");
    expect!(
        problems,
        number("Version").is_some_and(|v| v >= 500),
        "summary: installer version `{installer}` < 500"
    );

    let secure = property("SecureCustomProperties").unwrap_or_default();
    for flag in upgrades(tables, problems, upgrade_code, version)? {
        expect!(
            problems,
            secure.split(';').any(|p| p == flag),
            "{flag} is not in SecureCustomProperties"
        );
    }
    Ok(product)
}

/// The Upgrade rows and their sequencing; returns the properties they set.
fn upgrades(
    tables: &Tables,
    problems: &mut Problems,
    upgrade_code: &str,
    version: &str,
) -> anyhow::Result<Vec<String>> {
    let rows = tables.get(
        "Upgrade",
        &[
            "UpgradeCode",
            "VersionMin",
            "VersionMax",
            "Attributes",
            "ActionProperty",
        ],
    )?;
    let ours: Vec<Record<'_>> = rows
        .records()
        .filter(|r| r.get("UpgradeCode").eq_ignore_ascii_case(upgrade_code))
        .collect();
    let attributes = |r: &Record<'_>| r.int("Attributes").unwrap_or(0);
    // OnlyDetect 2, VersionMinInclusive 256, VersionMaxInclusive 512.
    let older = ours
        .iter()
        .find(|r| r.get("VersionMax") == version && attributes(r) & (2 | 512) == 0);
    let newer = ours.iter().find(|r| {
        r.get("VersionMin") == version
            && r.get("VersionMax").is_empty()
            && attributes(r) & 2 != 0
            && attributes(r) & 256 == 0
    });
    expect!(
        problems,
        older.is_some(),
        "Upgrade: no row removing versions below {version}"
    );
    expect!(
        problems,
        newer.is_some(),
        "Upgrade: no row detecting versions above {version}"
    );
    let mut flags: Vec<String> = older
        .map(|r| r.get("ActionProperty").to_owned())
        .into_iter()
        .collect();
    if let Some(newer) = newer {
        let flag = newer.get("ActionProperty");
        let conditions = tables.get("LaunchCondition", &["Condition", "Description"])?;
        expect!(
            problems,
            !conditions
                .find("Condition", &format!("NOT {flag}"))
                .is_empty(),
            "LaunchCondition: no `NOT {flag}`: a downgrade would not be refused"
        );
        flags.push(flag.to_owned());
    }
    let at = |action| -> anyhow::Result<Option<i64>> {
        Ok(tables.executed(action)?.map(|(number, _)| number))
    };
    let order = [
        at("FindRelatedProducts")?,
        at("LaunchConditions")?,
        at("InstallValidate")?,
        at("RemoveExistingProducts")?,
        at("InstallInitialize")?,
    ];
    expect!(
        problems,
        order.iter().all(Option::is_some) && order.windows(2).all(|w| w[0] < w[1]),
        "InstallExecuteSequence: expected FindRelatedProducts < LaunchConditions < \
         InstallValidate < RemoveExistingProducts < InstallInitialize, found {order:?}"
    );
    Ok(flags)
}

/// The ServiceInstall and ServiceControl rows of culvertd, in culvertd.exe's component.
pub(super) fn service(
    tables: &Tables,
    problems: &mut Problems,
    daemon: &FileRow,
) -> anyhow::Result<()> {
    let installs = tables.get(
        "ServiceInstall",
        &[
            "Name",
            "ServiceType",
            "StartType",
            "ErrorControl",
            "Dependencies",
            "StartName",
            "Arguments",
            "Component_",
        ],
    )?;
    let rows = installs.find("Name", "culvertd");
    if let [row] = rows[..] {
        let value = |column| row.get(column);
        let int = |column| row.int(column);
        expect!(
            problems,
            int("ServiceType") == Some(16),
            "ServiceInstall: ServiceType {}, not 16 (own process)",
            value("ServiceType")
        );
        expect!(
            problems,
            int("StartType") == Some(2),
            "ServiceInstall: StartType {}, not 2 (automatic)",
            value("StartType")
        );
        // 0x8000 is msidbServiceInstallErrorControlVital.
        expect!(
            problems,
            int("ErrorControl").is_some_and(|e| e & 0x7fff == 1),
            "ServiceInstall: ErrorControl {}, not 1 (normal)",
            value("ErrorControl")
        );
        // Empty means LocalSystem too.
        expect!(
            problems,
            ["LocalSystem", ""].contains(&value("StartName")),
            "ServiceInstall: runs as `{}`, not LocalSystem",
            value("StartName")
        );
        let dependencies: BTreeSet<&str> = value("Dependencies")
            .split("[~]")
            .filter(|d| !d.is_empty())
            .collect();
        expect!(
            problems,
            dependencies == BTreeSet::from(["Nsi", "TcpIp"]),
            "ServiceInstall: dependencies {dependencies:?}, not Nsi and TcpIp"
        );
        // The SCM starts culvertd.exe with no arguments: that is its service mode.
        expect!(
            problems,
            value("Arguments").is_empty(),
            "ServiceInstall: arguments `{}`",
            value("Arguments")
        );
        expect!(
            problems,
            value("Component_") == daemon.component,
            "ServiceInstall: not in culvertd.exe's component"
        );
    } else {
        expect!(
            problems,
            false,
            "ServiceInstall: {} rows for culvertd, expected 1",
            rows.len()
        );
    }

    let controls = tables.get("ServiceControl", &["Name", "Event", "Wait", "Component_"])?;
    let rows = controls.find("Name", "culvertd");
    if let [row] = rows[..] {
        expect!(
            problems,
            row.int("Event") == Some(SERVICE_EVENTS),
            "ServiceControl: Event {}, not {SERVICE_EVENTS} (start at install, stop at install \
             and uninstall, delete at uninstall)",
            row.get("Event")
        );
        expect!(
            problems,
            row.int("Wait") == Some(1),
            "ServiceControl: Wait `{}`",
            row.get("Wait")
        );
        expect!(
            problems,
            row.get("Component_") == daemon.component,
            "ServiceControl: not in culvertd.exe's component"
        );
    } else {
        expect!(
            problems,
            false,
            "ServiceControl: {} rows for culvertd, expected 1",
            rows.len()
        );
    }
    Ok(())
}

/// culvert.exe's folder appended to the system PATH, removed at uninstall.
pub(super) fn path(tables: &Tables, problems: &mut Problems, cli: &FileRow) -> anyhow::Result<()> {
    let environment = tables.get("Environment", &["Name", "Value", "Component_"])?;
    let flags = ['=', '+', '!', '-', '*'];
    let rows: Vec<Record<'_>> = environment
        .records()
        .filter(|r| {
            r.get("Name")
                .trim_start_matches(flags)
                .eq_ignore_ascii_case("PATH")
        })
        .collect();
    if let [row] = rows[..] {
        let (name, value) = (row.get("Name"), row.get("Value"));
        let prefix = &name[..name.len() - "PATH".len()];
        // `=` set at install, `-` undone at uninstall, `*` the system's variable.
        expect!(
            problems,
            prefix.len() == 3 && ['=', '-', '*'].iter().all(|f| prefix.contains(*f)),
            "Environment: `{name}`, expected `=-*PATH`"
        );
        expect!(
            problems,
            value == "[~];[INSTALLDIR]",
            "Environment: PATH value `{value}`, not `[~];[INSTALLDIR]`"
        );
        expect!(
            problems,
            row.get("Component_") == cli.component,
            "Environment: PATH is not in culvert.exe's component"
        );
    } else {
        expect!(
            problems,
            false,
            "Environment: {} PATH rows, expected 1",
            rows.len()
        );
    }
    for (action, _) in ENVIRONMENT_ACTIONS {
        let found = tables.executed(action)?.is_some();
        expect!(problems, found, "InstallExecuteSequence: no {action}");
    }
    Ok(())
}

/// The Start menu shortcut "Culvert" to culvert-app.exe, with its icon and the app's
/// AppUserModelID (`app_id`).
pub(super) fn shortcut(
    tables: &Tables,
    problems: &mut Problems,
    app: &FileRow,
    app_id: &str,
) -> anyhow::Result<()> {
    let target = format!("[#{}]", app.key);
    let shortcuts = tables.get(
        "Shortcut",
        &[
            "Shortcut",
            "Directory_",
            "Name",
            "Component_",
            "Target",
            "Icon_",
            "WkDir",
        ],
    )?;
    let rows = shortcuts.find("Target", &target);
    let [row] = rows[..] else {
        expect!(
            problems,
            false,
            "Shortcut: {} rows to {target} (culvert-app.exe), expected 1",
            rows.len()
        );
        return Ok(());
    };
    let (id, icon) = (row.get("Shortcut"), row.get("Icon_"));
    let (directory, name, component) = (
        row.get("Directory_"),
        row.get("Name"),
        row.get("Component_"),
    );
    expect!(
        problems,
        directory == "ProgramMenuFolder",
        "Shortcut: in {directory}, not ProgramMenuFolder"
    );
    expect!(
        problems,
        long_name(name) == "Culvert",
        "Shortcut: named `{name}`, not Culvert"
    );
    expect!(
        problems,
        row.get("WkDir") == "INSTALLDIR",
        "Shortcut: works in `{}`, not INSTALLDIR",
        row.get("WkDir")
    );
    let features = tables.get("FeatureComponents", &["Component_"])?;
    expect!(
        problems,
        !features.find("Component_", component).is_empty(),
        "Shortcut: its component {component} is in no feature"
    );
    let icons = tables.get("Icon", &["Name"])?;
    expect!(
        problems,
        !icons.find("Name", icon).is_empty(),
        "Shortcut: icon `{icon}` is not in the Icon table"
    );
    let properties = tables.get(
        "MsiShortcutProperty",
        &["Shortcut_", "PropertyKey", "PropVariantValue"],
    )?;
    let has_id = properties.find("Shortcut_", id).iter().any(|r| {
        r.get("PropertyKey") == "System.AppUserModel.ID" && r.get("PropVariantValue") == app_id
    });
    expect!(
        problems,
        has_id,
        "MsiShortcutProperty: no System.AppUserModel.ID = {app_id} on {id}"
    );
    Ok(())
}

/// `culvertd.exe recover`, deferred and as LocalSystem, at uninstall only, after the
/// service stops and before the files go; its failure does not abort the uninstall.
pub(super) fn recover(
    tables: &Tables,
    problems: &mut Problems,
    daemon: &FileRow,
) -> anyhow::Result<()> {
    let actions = tables.get("CustomAction", &["Action", "Type", "Source", "Target"])?;
    let rows: Vec<Record<'_>> = actions
        .find("Source", &daemon.key)
        .into_iter()
        .filter(|r| r.get("Target").trim() == "recover")
        .collect();
    let [row] = rows[..] else {
        expect!(
            problems,
            false,
            "CustomAction: {} rows running culvertd.exe recover, expected 1",
            rows.len()
        );
        return Ok(());
    };
    let (action, kind) = (row.get("Action"), row.int("Type").unwrap_or(0));
    // 18: an .exe of the File table; 0x400 deferred (in script); 0x800 not impersonated;
    // 0x100 / 0x200 would make it a rollback / commit action; 0x40 exit code ignored.
    expect!(
        problems,
        kind & 0x3f == 18 && kind & 0x400 != 0 && kind & 0x800 != 0 && kind & 0x300 == 0,
        "CustomAction {action}: type {kind} is not a deferred, not impersonated .exe"
    );
    expect!(
        problems,
        kind & 0x40 != 0,
        "CustomAction {action}: its failure would abort the uninstall (type {kind})"
    );
    let stop = tables.executed("StopServices")?.map(|(n, _)| n);
    let remove = tables.executed("RemoveFiles")?.map(|(n, _)| n);
    let Some((number, condition)) = tables.executed(action)? else {
        expect!(problems, false, "InstallExecuteSequence: no {action}");
        return Ok(());
    };
    let condition: String = condition.split_whitespace().collect();
    expect!(
        problems,
        condition == "REMOVE=\"ALL\"",
        "InstallExecuteSequence: {action} runs when `{condition}`, not REMOVE=\"ALL\""
    );
    expect!(
        problems,
        stop.is_some_and(|s| s < number) && remove.is_some_and(|r| number < r),
        "InstallExecuteSequence: {action} at {number}, not between StopServices {stop:?} and \
         RemoveFiles {remove:?}"
    );
    Ok(())
}
