//! Reading an MSI back: its tables as `msiinfo export` prints them.

use super::output_echoed;
use anyhow::{Context, bail, ensure};
use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

/// One table as `msiinfo export` prints it: column names, column types, the table's
/// name with its primary keys, then one row a line, cells separated by tabs.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Table {
    name: String,
    columns: Vec<String>,
    keys: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    pub(super) fn parse(text: &str) -> anyhow::Result<Self> {
        let mut lines = text
            .split('\n')
            .map(|line| line.strip_suffix('\r').unwrap_or(line));
        let mut header = || lines.next().filter(|line| !line.is_empty());
        let columns: Vec<String> = header()
            .context("no header line (column names)")?
            .split('\t')
            .map(str::to_owned)
            .collect();
        let types = header().context("no second header line (column types)")?;
        ensure!(
            types.split('\t').count() == columns.len(),
            "{} column names but {} column types",
            columns.len(),
            types.split('\t').count()
        );
        let mut naming = header()
            .context("no third header line (table name and keys)")?
            .split('\t')
            .map(str::to_owned);
        let name = naming.next().unwrap_or_default();
        let keys: Vec<String> = naming.collect();
        if let Some(key) = keys.iter().find(|key| !columns.contains(key)) {
            bail!("{name}: the key {key} is not a column");
        }
        let mut rows = Vec::new();
        for (number, line) in lines.enumerate() {
            if line.is_empty() {
                continue;
            }
            let row: Vec<String> = line.split('\t').map(str::to_owned).collect();
            ensure!(
                row.len() == columns.len(),
                "{name}, row {}: {} cells for {} columns: `{line}`",
                number + 1,
                row.len(),
                columns.len()
            );
            rows.push(row);
        }
        Ok(Self {
            name,
            columns,
            keys,
            rows,
        })
    }

    /// The rows, each readable by column name.
    pub(super) fn records(&self) -> impl Iterator<Item = Record<'_>> {
        self.rows.iter().map(|cells| Record { table: self, cells })
    }

    /// The rows whose `column` is `value`.
    pub(super) fn find<'t>(&'t self, column: &str, value: &str) -> Vec<Record<'t>> {
        self.records().filter(|r| r.get(column) == value).collect()
    }

    pub(super) fn require(&self, columns: &[&str]) -> anyhow::Result<&Self> {
        if let Some(missing) = columns
            .iter()
            .find(|c| !self.columns.iter().any(|n| n == *c))
        {
            bail!("table {} has no column {missing}", self.name);
        }
        Ok(self)
    }
}

#[derive(Debug, Clone, Copy)]
pub(super) struct Record<'t> {
    table: &'t Table,
    cells: &'t [String],
}

impl<'t> Record<'t> {
    /// The cell in `column`; "" when null, or when there is no such column (tables are
    /// checked with [`Table::require`] first).
    pub(super) fn get(&self, column: &str) -> &'t str {
        self.table
            .columns
            .iter()
            .position(|c| c == column)
            .and_then(|i| self.cells.get(i))
            .map_or("", String::as_str)
    }

    pub(super) fn int(&self, column: &str) -> Option<i64> {
        self.get(column).parse().ok()
    }
}

/// The long name of a `short|long` file or directory name.
pub(super) fn long_name(name: &str) -> &str {
    name.rsplit('|').next().unwrap_or(name)
}

/// The tables the table test (`msi::check`) reads.
const TABLES: [&str; 16] = [
    "Component",
    "CustomAction",
    "Directory",
    "Environment",
    "File",
    "Icon",
    "InstallExecuteSequence",
    "LaunchCondition",
    "MsiFileHash",
    "MsiShortcutProperty",
    "Property",
    "ServiceControl",
    "ServiceInstall",
    "Shortcut",
    "Upgrade",
    "FeatureComponents",
];

/// The tables of one MSI that the table test reads, each exported once.
#[derive(Debug)]
pub(super) struct Tables {
    pub(super) msi: PathBuf,
    /// Where msiinfo wrote the binary cells (streams) of the tables it exported.
    exports: PathBuf,
    read: Vec<Table>,
}

impl Tables {
    /// Exports the tables of `msi`; `exports` (an empty directory) takes their streams.
    pub(super) fn open(msi: &Path, exports: &Path) -> anyhow::Result<Self> {
        ensure!(msi.is_file(), "{} does not exist", msi.display());
        // msiinfo runs in `exports`, where it writes streams as TABLE/TABLE.KEY.
        let msi =
            fs::canonicalize(msi).with_context(|| format!("cannot resolve {}", msi.display()))?;
        let (list, _) = output_echoed(Command::new("msiinfo").arg("tables").arg(&msi), false)?;
        let present: BTreeSet<&str> = list.lines().map(str::trim).collect();
        let mut read = Vec::new();
        for name in TABLES.into_iter().filter(|name| present.contains(name)) {
            let (text, _) = output_echoed(
                Command::new("msiinfo")
                    .current_dir(exports)
                    .arg("export")
                    .arg(&msi)
                    .arg(name),
                false,
            )?;
            let table =
                Table::parse(&text).with_context(|| format!("msiinfo's export of {name}"))?;
            ensure!(
                table.name == name,
                "asked for {name}, msiinfo exported {}",
                table.name
            );
            read.push(table);
        }
        Ok(Self {
            msi,
            exports: exports.to_path_buf(),
            read,
        })
    }

    /// The file msiinfo wrote for the binary cell of `table`'s row `key`.
    pub(super) fn stream(&self, table: &str, key: &str) -> PathBuf {
        self.exports.join(table).join(format!("{table}.{key}"))
    }

    pub(super) fn has(&self, name: &str) -> bool {
        self.read.iter().any(|t| t.name == name)
    }

    /// `name` with at least `columns`; an error when the MSI has no such table.
    pub(super) fn get(&self, name: &str, columns: &[&str]) -> anyhow::Result<&Table> {
        self.read
            .iter()
            .find(|t| t.name == name)
            .with_context(|| format!("{} has no {name} table", self.msi.display()))?
            .require(columns)
    }

    /// The sequence number of `action` in InstallExecuteSequence, with its condition.
    pub(super) fn executed(&self, action: &str) -> anyhow::Result<Option<(i64, String)>> {
        let sequence = self.get(
            "InstallExecuteSequence",
            &["Action", "Condition", "Sequence"],
        )?;
        Ok(sequence.find("Action", action).first().and_then(|r| {
            r.int("Sequence")
                .map(|number| (number, r.get("Condition").to_owned()))
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SERVICE_INSTALL: &str = "ServiceInstall\tName\tDisplayName\tServiceType\tStartType\r\n\
        s72\ts255\tL255\ti4\ti4\r\n\
        ServiceInstall\tServiceInstall\r\n\
        CulvertdServiceInstall\tculvertd\tCulvert WireGuard service\t16\t2\r\n";

    #[test]
    fn parses_headers_and_rows() {
        let table = Table::parse(SERVICE_INSTALL).unwrap();
        assert_eq!(table.name, "ServiceInstall");
        assert_eq!(table.keys, ["ServiceInstall"]);
        assert_eq!(table.columns.len(), 5);
        let row = table.find("Name", "culvertd")[0];
        assert_eq!(row.get("DisplayName"), "Culvert WireGuard service");
        assert_eq!(row.int("StartType"), Some(2));
        assert_eq!(row.get("NoSuchColumn"), "");
        assert!(table.require(&["Name", "ServiceType"]).is_ok());
        let missing = table.require(&["Dependencies"]).unwrap_err().to_string();
        assert!(missing.contains("Dependencies"), "{missing}");
    }

    #[test]
    fn keeps_empty_cells_and_takes_plain_newlines() {
        let text = "Action\tCondition\tSequence\ns72\tS255\tI2\n\
                    InstallExecuteSequence\tAction\n\
                    InstallValidate\t\t1400\nCulvertdRecover\tREMOVE=\"ALL\"\t1901\n\n";
        let table = Table::parse(text).unwrap();
        assert_eq!(table.rows.len(), 2);
        assert_eq!(table.rows[0], ["InstallValidate", "", "1400"]);
        assert_eq!(
            table.find("Action", "CulvertdRecover")[0].get("Condition"),
            "REMOVE=\"ALL\""
        );
    }

    #[test]
    fn takes_a_table_without_rows_and_several_keys() {
        let text = "UpgradeCode\tVersionMin\tAttributes\r\ns38\tS20\ti4\r\n\
                    Upgrade\tUpgradeCode\tVersionMin\r\n";
        let table = Table::parse(text).unwrap();
        assert_eq!(table.keys, ["UpgradeCode", "VersionMin"]);
        assert!(table.rows.is_empty());
    }

    #[test]
    fn refuses_malformed_exports() {
        let short_row = "A\tB\r\ns72\ts72\r\nT\tA\r\nonly-one\r\n";
        let error = Table::parse(short_row).unwrap_err().to_string();
        assert!(error.contains("1 cells for 2 columns"), "{error}");
        assert!(Table::parse("A\tB\r\ns72\r\nT\tA\r\n").is_err());
        assert!(Table::parse("A\tB\r\ns72\ts72\r\n").is_err());
        assert!(Table::parse("A\tB\r\ns72\ts72\r\nT\tC\r\n").is_err());
        assert!(Table::parse("").is_err());
    }

    #[test]
    fn long_names() {
        assert_eq!(long_name("CULVER~1.EXE|culvert-app.exe"), "culvert-app.exe");
        assert_eq!(long_name("culvert.exe"), "culvert.exe");
    }
}
