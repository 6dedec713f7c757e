//! Whether recovery may obey the journals in a folder. It runs as SYSTEM (culvertd's
//! start, `culvertd recover` from the uninstaller) and deletes what they name — routes,
//! interface DNS, WFP objects by key — so a journal planted by someone else could make
//! it delete another program's firewall filters. culvertd makes its state folder private
//! before it recovers; this refuses a journal folder it did not: a link, or one owned by
//! anyone but SYSTEM, Administrators or the account running us.
//!
//! UNVERIFIED on real Windows: wine makes the user the owner of every file, so only the
//! decision and the "our own account" case run there.

use crate::Error;
use culvert_winsec::{is_link, is_trusted_owner, owner_of_path, process_account_sid};
use std::path::Path;

/// Refuses `dir` unless it is a real folder that SYSTEM, Administrators or we own.
pub(crate) fn check_journal_dir(dir: &Path) -> Result<(), Error> {
    let metadata = std::fs::symlink_metadata(dir).map_err(Error::io("the journal folder"))?;
    let link = is_link(&metadata);
    // A link's owner would be its target's: none is read for one.
    let owner = if link {
        String::new()
    } else {
        owner_of_path(dir).map_err(Error::io("reading the journal folder's owner"))?
    };
    let own = process_account_sid().map_err(Error::io("reading this process's account"))?;
    decide(dir, link, &owner, &own)
}

fn decide(dir: &Path, link: bool, owner: &str, own: &str) -> Result<(), Error> {
    let why = if link {
        "it is a link to somewhere else".to_owned()
    } else if !is_trusted_owner(owner, own) {
        format!("its owner is {owner}, not SYSTEM or Administrators")
    } else {
        return Ok(());
    };
    Err(Error::System {
        what: "trusting the network journals",
        message: format!(
            "{} was not made by culvertd ({why}), so its journals are not obeyed; delete it \
             in an administrator's console (rmdir /s \"{}\")",
            dir.display(),
            dir.display()
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use culvert_winsec::{ADMINISTRATORS_SID, LOCAL_SYSTEM_SID as SYSTEM_SID};

    #[test]
    fn only_folders_of_system_administrators_or_ours_are_obeyed() {
        let dir = Path::new(r"C:\ProgramData\Culvert\state\netconf");
        let own = "S-1-5-21-9-9-9-500";
        for owner in [SYSTEM_SID, ADMINISTRATORS_SID, own] {
            decide(dir, false, owner, own).unwrap();
        }
        let message = decide(dir, false, "S-1-5-21-9-9-9-1001", SYSTEM_SID)
            .unwrap_err()
            .to_string();
        assert!(
            message.contains(r"C:\ProgramData\Culvert\state\netconf was not made by culvertd")
                && message.contains("S-1-5-21-9-9-9-1001"),
            "{message}"
        );
        let message = decide(dir, true, "", SYSTEM_SID).unwrap_err().to_string();
        assert!(message.contains("a link"), "{message}");
    }

    #[test]
    fn a_journal_folder_we_made_ourselves_is_obeyed() {
        let dir = std::env::temp_dir().join(format!("culvert-trust-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        check_journal_dir(&dir).unwrap();
        let _ = std::fs::remove_dir_all(&dir);
    }
}
