//! What wixl 0.101 cannot build from culvert.wxs: the rows of its `Environment` and
//! `ShortcutProperty` elements, translated as WiX 3's compiler translates them
//! (Compiler.ParseEnvironmentElement, ParseShortcutPropertyElement) and added to wixl's
//! MSI with msibuild. culvert.wxs hides these elements from wixl behind
//! `<?ifndef var.Wixl?>`; this module reads them, with a small XML reader of its own,
//! from the output of wixl's preprocessor without `Wixl` defined: the document WiX's
//! compiler would see, its conditions decided and its variables expanded.

use super::output;
use anyhow::{Context, bail, ensure};
use std::fs;
use std::path::Path;
use std::process::Command;

/// The standard sequence numbers of the two environment actions (MSI SDK).
pub(super) const ENVIRONMENT_ACTIONS: [(&str, i64); 2] = [
    ("RemoveEnvironmentStrings", 3300),
    ("WriteEnvironmentStrings", 5200),
];

/// An IDT table: name, (column, type) pairs, primary keys. Types as in WiX 3's
/// tables.xml.
struct Idt {
    name: &'static str,
    columns: &'static [(&'static str, &'static str)],
    keys: &'static [&'static str],
}

const ENVIRONMENT: Idt = Idt {
    name: "Environment",
    columns: &[
        ("Environment", "s72"),
        ("Name", "l255"),
        ("Value", "L255"),
        ("Component_", "s72"),
    ],
    keys: &["Environment"],
};

const SHORTCUT_PROPERTY: Idt = Idt {
    name: "MsiShortcutProperty",
    columns: &[
        ("MsiShortcutProperty", "s72"),
        ("Shortcut_", "s72"),
        ("PropertyKey", "s0"),
        ("PropVariantValue", "s0"),
    ],
    keys: &["MsiShortcutProperty"],
};

/// Adds the rows of the Environment and ShortcutProperty elements of `preprocessed` (the
/// source after wixl's preprocessor) to `msi`, and the environment actions to its
/// InstallExecuteSequence; `work` takes the IDT files.
pub(super) fn add_rows(preprocessed: &str, msi: &Path, work: &Path) -> anyhow::Result<()> {
    let mut environment = Vec::new();
    let mut properties = Vec::new();
    for element in xml_elements(preprocessed)? {
        match element.name.as_str() {
            "Environment" => environment.push(environment_row(&element)?),
            "ShortcutProperty" => properties.push(shortcut_property_row(&element)?),
            _ => {}
        }
    }
    let mut msibuild = Command::new("msibuild");
    msibuild.arg(msi);
    for (table, rows) in [
        (&ENVIRONMENT, &environment),
        (&SHORTCUT_PROPERTY, &properties),
    ] {
        if rows.is_empty() {
            continue;
        }
        let idt = work.join(format!("{}.idt", table.name));
        fs::write(&idt, idt_text(table, rows)?)
            .with_context(|| format!("cannot write {}", idt.display()))?;
        msibuild.arg("-i").arg(idt);
    }
    if !environment.is_empty() {
        for (action, sequence) in ENVIRONMENT_ACTIONS {
            msibuild.arg("-q").arg(format!(
                "INSERT INTO `InstallExecuteSequence` (`Action`, `Sequence`) \
                 VALUES ('{action}', {sequence})"
            ));
        }
    }
    if environment.is_empty() && properties.is_empty() {
        return Ok(());
    }
    output(&mut msibuild).map(drop)
}

/// An IDT file as `MsiDatabaseImport` (and msibuild) reads it.
fn idt_text(table: &Idt, rows: &[Vec<String>]) -> anyhow::Result<String> {
    let mut text = String::new();
    let names: Vec<&str> = table.columns.iter().map(|(name, _)| *name).collect();
    let types: Vec<&str> = table.columns.iter().map(|(_, kind)| *kind).collect();
    text.push_str(&names.join("\t"));
    text.push_str("\r\n");
    text.push_str(&types.join("\t"));
    text.push_str("\r\n");
    text.push_str(table.name);
    for key in table.keys {
        text.push('\t');
        text.push_str(key);
    }
    text.push_str("\r\n");
    for row in rows {
        ensure!(
            row.len() == names.len(),
            "{}: a row of {} cells",
            table.name,
            row.len()
        );
        if let Some(cell) = row.iter().find(|c| c.contains(['\t', '\r', '\n'])) {
            bail!("{}: `{cell}` holds a tab or a line break", table.name);
        }
        text.push_str(&row.join("\t"));
        text.push_str("\r\n");
    }
    Ok(text)
}

/// WiX 3's Environment element as an Environment row (Compiler.ParseEnvironmentElement):
/// Name = action (`=` set, `+` create, `!` remove) + `-` unless Permanent + `*` if
/// System + the name; Part="last" makes the value `[~]` + separator + value.
fn environment_row(element: &Element) -> anyhow::Result<Vec<String>> {
    element.only_attributes(&[
        "Id",
        "Name",
        "Value",
        "Action",
        "Part",
        "Permanent",
        "Separator",
        "System",
    ])?;
    let id = element.required("Id")?;
    let name = element.required("Name")?;
    let action = match element.attr("Action") {
        None => "",
        Some("set") => "=",
        Some("create") => "+",
        Some("remove") => "!",
        Some(other) => bail!("Environment {id}: Action=\"{other}\" is not create, set or remove"),
    };
    let separator = element.attr("Separator").unwrap_or(";");
    let mut value = element.attr("Value").unwrap_or("").to_owned();
    match element.attr("Part") {
        None | Some("all") => {}
        Some(_) if action == "+" => {
            bail!("Environment {id}: WiX refuses Part with Action=\"create\"")
        }
        Some("first") => value = format!("{value}{separator}[~]"),
        Some("last") => value = format!("[~]{separator}{value}"),
        Some(other) => bail!("Environment {id}: Part=\"{other}\" is not all, first or last"),
    }
    let uninstall = if element.yes_no("Permanent")? {
        ""
    } else {
        "-"
    };
    let system = if element.yes_no("System")? { "*" } else { "" };
    Ok(vec![
        id.to_owned(),
        format!("{action}{uninstall}{system}{name}"),
        value,
        element.ancestor_id("Component")?.to_owned(),
    ])
}

/// WiX 3's ShortcutProperty element as an MsiShortcutProperty row (the key and value
/// verbatim). WiX would make up an Id; here it must be given.
fn shortcut_property_row(element: &Element) -> anyhow::Result<Vec<String>> {
    element.only_attributes(&["Id", "Key", "Value"])?;
    Ok(vec![
        element.required("Id")?.to_owned(),
        element.ancestor_id("Shortcut")?.to_owned(),
        element.required("Key")?.to_owned(),
        element.required("Value")?.to_owned(),
    ])
}

/// One start tag of an XML document: its name, attributes and the (name, Id) of the
/// elements it is inside, outermost first.
#[derive(Debug)]
pub(super) struct Element {
    pub(super) name: String,
    attributes: Vec<(String, String)>,
    ancestors: Vec<(String, Option<String>)>,
}

impl Element {
    pub(super) fn attr(&self, name: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    fn required(&self, name: &str) -> anyhow::Result<&str> {
        self.attr(name)
            .with_context(|| format!("<{}> has no {name}", self.name))
    }

    fn yes_no(&self, name: &str) -> anyhow::Result<bool> {
        match self.attr(name) {
            None | Some("no") => Ok(false),
            Some("yes") => Ok(true),
            Some(other) => bail!("<{}>: {name}=\"{other}\" is not yes or no", self.name),
        }
    }

    fn only_attributes(&self, known: &[&str]) -> anyhow::Result<()> {
        for (name, _) in &self.attributes {
            ensure!(
                known.contains(&name.as_str()),
                "<{}>: xtask's translation for wixl does not know the attribute {name}",
                self.name
            );
        }
        Ok(())
    }

    /// The Id of the innermost enclosing `name` element.
    fn ancestor_id(&self, name: &str) -> anyhow::Result<&str> {
        self.ancestors
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .and_then(|(_, id)| id.as_deref())
            .with_context(|| format!("<{}> is not inside a <{name} Id=...>", self.name))
    }
}

/// The start tags of `text`, a small XML reader for our own WiX source: comments,
/// processing instructions (the preprocessor's), CDATA and declarations are skipped.
pub(super) fn xml_elements(text: &str) -> anyhow::Result<Vec<Element>> {
    let mut elements = Vec::new();
    let mut open: Vec<(String, Option<String>)> = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find('<') {
        rest = &rest[start..];
        let skip = [
            ("<!--", "-->"),
            ("<?", "?>"),
            ("<![CDATA[", "]]>"),
            ("<!", ">"),
        ]
        .into_iter()
        .find(|(opening, _)| rest.starts_with(opening));
        if let Some((opening, closing)) = skip {
            let end = rest[opening.len()..]
                .find(closing)
                .with_context(|| format!("`{opening}` without `{closing}`"))?;
            rest = &rest[opening.len() + end + closing.len()..];
        } else if let Some(after) = rest.strip_prefix("</") {
            let end = after.find('>').context("an end tag without `>`")?;
            let name = after[..end].trim();
            match open.pop() {
                Some((open_name, _)) if open_name == name => {}
                other => bail!("</{name}> closes {other:?}"),
            }
            rest = &after[end + 1..];
        } else {
            let (element, empty, after) = start_tag(&rest[1..], &open)?;
            if !empty {
                open.push((element.name.clone(), element.attr("Id").map(str::to_owned)));
            }
            elements.push(element);
            rest = after;
        }
    }
    if let Some((name, _)) = open.last() {
        bail!("<{name}> is never closed");
    }
    Ok(elements)
}

/// Parses a start tag after its `<`: the element, whether it is empty (`/>`), the rest.
fn start_tag<'t>(
    text: &'t str,
    open: &[(String, Option<String>)],
) -> anyhow::Result<(Element, bool, &'t str)> {
    let end = text
        .find(|c: char| c.is_whitespace() || c == '>' || c == '/')
        .context("a start tag without `>`")?;
    let name = &text[..end];
    ensure!(!name.is_empty(), "a tag without a name");
    let mut element = Element {
        name: name.to_owned(),
        attributes: Vec::new(),
        ancestors: open.to_vec(),
    };
    let mut rest = &text[end..];
    loop {
        rest = rest.trim_start();
        if let Some(after) = rest.strip_prefix("/>") {
            return Ok((element, true, after));
        }
        if let Some(after) = rest.strip_prefix('>') {
            return Ok((element, false, after));
        }
        let eq = rest
            .find('=')
            .with_context(|| format!("<{name}>: an attribute without a value"))?;
        let attribute = rest[..eq].trim();
        let value = rest[eq + 1..].trim_start();
        let quote = value
            .chars()
            .next()
            .filter(|c| *c == '"' || *c == '\'')
            .with_context(|| format!("<{name}>: {attribute}'s value is not quoted"))?;
        let close = value[1..]
            .find(quote)
            .with_context(|| format!("<{name}>: {attribute}'s value is not closed"))?;
        element
            .attributes
            .push((attribute.to_owned(), unescape(&value[1..=close])?));
        rest = &value[close + 2..];
    }
}

/// XML's five named entities and character references.
fn unescape(text: &str) -> anyhow::Result<String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        let end = rest[amp..]
            .find(';')
            .with_context(|| format!("`{text}`: `&` without `;`"))?;
        let entity = &rest[amp + 1..amp + end];
        let code = |digits: &str, radix| {
            u32::from_str_radix(digits, radix)
                .ok()
                .and_then(char::from_u32)
        };
        let c = match entity {
            "quot" => Some('"'),
            "apos" => Some('\''),
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            _ => match entity
                .strip_prefix("#x")
                .or_else(|| entity.strip_prefix("#X"))
            {
                Some(hex) => code(hex, 16),
                None => entity.strip_prefix('#').and_then(|dec| code(dec, 10)),
            },
        };
        out.push(c.with_context(|| format!("`{text}`: unknown entity &{entity};"))?);
        rest = &rest[amp + end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const WXS_PART: &str = r#"<?xml version="1.0"?>
        <!-- <Environment Id="Commented" Name="X" /> -->
        <Wix><Product Id="*" UpgradeCode="{79C63B5D-838F-4321-B4F9-0DCF80F120C2}">
          <Component Id="CulvertCli" Guid="{2E5BCAC7-EAE1-443B-A158-617A88048539}">
            <File Id="CulvertExe" Name="culvert.exe" />
            <?ifndef var.Wixl?>
            <Environment Id="CulvertOnPath" Name="PATH" Value="[INSTALLDIR]" Action="set"
                         Part="last" System="yes" Permanent="no" />
            <?endif?>
          </Component>
          <Component Id="Shortcut">
            <Shortcut Id="AppShortcut" Name="Culvert" Target="[#CulvertAppExe]">
              <ShortcutProperty Id="Aumid" Key="System.AppUserModel.ID" Value="org.culvert.app" />
            </Shortcut>
          </Component>
          <Custom Action="CulvertdRecover" Sequence="1901">REMOVE="ALL" AND 1 &lt; 2</Custom>
        </Product></Wix>"#;

    #[test]
    fn reads_elements_with_their_ancestors() {
        let elements = xml_elements(WXS_PART).unwrap();
        let names: Vec<&str> = elements.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "Wix",
                "Product",
                "Component",
                "File",
                "Environment",
                "Component",
                "Shortcut",
                "ShortcutProperty",
                "Custom"
            ]
        );
        let environment = &elements[4];
        assert_eq!(environment.attr("Part"), Some("last"));
        assert_eq!(environment.ancestor_id("Component").unwrap(), "CulvertCli");
        assert_eq!(elements[7].ancestor_id("Shortcut").unwrap(), "AppShortcut");
        assert!(elements[3].ancestor_id("Shortcut").is_err());
    }

    #[test]
    fn translates_environment_as_wix_does() {
        let elements = xml_elements(WXS_PART).unwrap();
        assert_eq!(
            environment_row(&elements[4]).unwrap(),
            ["CulvertOnPath", "=-*PATH", "[~];[INSTALLDIR]", "CulvertCli"]
        );
        let row = |attributes: &str| {
            let xml =
                format!("<Component Id=\"C\"><Environment Id=\"E\" {attributes}/></Component>");
            environment_row(&xml_elements(&xml).unwrap()[1])
        };
        assert_eq!(
            row(r#"Name="X" Value="v" Action="create" Permanent="yes""#).unwrap(),
            ["E", "+X", "v", "C"]
        );
        assert_eq!(
            row(r#"Name="P" Value="v" Action="set" Part="first" Separator=":""#).unwrap(),
            ["E", "=-P", "v:[~]", "C"]
        );
        assert_eq!(
            row(r#"Name="R" Action="remove" System="yes""#).unwrap()[1],
            "!-*R"
        );
        assert!(row(r#"Name="X" Action="create" Part="last""#).is_err());
        assert!(row(r#"Name="X" Action="append""#).is_err());
        assert!(row(r#"Name="X" System="true""#).is_err());
        assert!(row(r#"Name="X" Unknown="1""#).is_err());
        assert!(row(r#"Value="no name""#).is_err());
    }

    #[test]
    fn translates_shortcut_properties() {
        let elements = xml_elements(WXS_PART).unwrap();
        assert_eq!(
            shortcut_property_row(&elements[7]).unwrap(),
            [
                "Aumid",
                "AppShortcut",
                "System.AppUserModel.ID",
                "org.culvert.app"
            ]
        );
    }

    #[test]
    fn unescapes_text_and_refuses_broken_xml() {
        assert_eq!(
            unescape("a &lt;b&gt; &amp; &quot;c&apos; &#65;&#x42;").unwrap(),
            "a <b> & \"c' AB"
        );
        assert!(unescape("&nbsp;").is_err());
        assert!(unescape("a & b").is_err());
        assert!(xml_elements("<A><B></A>").is_err());
        assert!(xml_elements("<A>").is_err());
        assert!(xml_elements("<A x=1/>").is_err());
        assert!(xml_elements("<!-- open").is_err());
    }

    #[test]
    fn writes_idt_files() {
        let rows = vec![vec![
            "CulvertOnPath".to_owned(),
            "=-*PATH".to_owned(),
            "[~];[INSTALLDIR]".to_owned(),
            "CulvertCli".to_owned(),
        ]];
        let text = idt_text(&ENVIRONMENT, &rows).unwrap();
        assert_eq!(
            text,
            "Environment\tName\tValue\tComponent_\r\ns72\tl255\tL255\ts72\r\n\
             Environment\tEnvironment\r\nCulvertOnPath\t=-*PATH\t[~];[INSTALLDIR]\tCulvertCli\r\n"
        );
        // What msiinfo exports, the parser reads.
        let table = super::super::tables::Table::parse(&text).unwrap();
        assert_eq!(
            table.find("Environment", "CulvertOnPath")[0].get("Name"),
            "=-*PATH"
        );
        let tab = vec![vec!["a\tb".to_owned(); 4]];
        assert!(idt_text(&ENVIRONMENT, &tab).is_err());
        assert!(idt_text(&ENVIRONMENT, &[vec![String::new()]]).is_err());
    }
}
