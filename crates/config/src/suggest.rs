//! The keys wg-quick knows, and "did you mean" suggestions for the ones it does not.

/// Every key of a wg-quick config. The first twelve belong in `[Interface]`, the rest in
/// `[Peer]`; names are spelled as in `wg-quick(8)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[expect(
    clippy::enum_variant_names,
    reason = "the variants are wg-quick's key names"
)]
pub(crate) enum Key {
    PrivateKey,
    ListenPort,
    FwMark,
    Address,
    Dns,
    Mtu,
    Table,
    PreUp,
    PostUp,
    PreDown,
    PostDown,
    SaveConfig,
    PublicKey,
    PresharedKey,
    AllowedIps,
    Endpoint,
    PersistentKeepalive,
}

const ALL: [Key; 17] = [
    Key::PrivateKey,
    Key::ListenPort,
    Key::FwMark,
    Key::Address,
    Key::Dns,
    Key::Mtu,
    Key::Table,
    Key::PreUp,
    Key::PostUp,
    Key::PreDown,
    Key::PostDown,
    Key::SaveConfig,
    Key::PublicKey,
    Key::PresharedKey,
    Key::AllowedIps,
    Key::Endpoint,
    Key::PersistentKeepalive,
];

impl Key {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Key::PrivateKey => "PrivateKey",
            Key::ListenPort => "ListenPort",
            Key::FwMark => "FwMark",
            Key::Address => "Address",
            Key::Dns => "DNS",
            Key::Mtu => "MTU",
            Key::Table => "Table",
            Key::PreUp => "PreUp",
            Key::PostUp => "PostUp",
            Key::PreDown => "PreDown",
            Key::PostDown => "PostDown",
            Key::SaveConfig => "SaveConfig",
            Key::PublicKey => "PublicKey",
            Key::PresharedKey => "PresharedKey",
            Key::AllowedIps => "AllowedIPs",
            Key::Endpoint => "Endpoint",
            Key::PersistentKeepalive => "PersistentKeepalive",
        }
    }

    /// Keys are case-insensitive, as wg-quick matches them under `nocasematch`.
    pub(crate) fn lookup(name: &str) -> Option<Key> {
        ALL.into_iter()
            .find(|k| k.name().eq_ignore_ascii_case(name))
    }

    pub(crate) fn in_interface(self) -> bool {
        !matches!(
            self,
            Key::PublicKey
                | Key::PresharedKey
                | Key::AllowedIps
                | Key::Endpoint
                | Key::PersistentKeepalive
        )
    }

    /// Keys that may appear several times, their values adding up.
    pub(crate) fn repeatable(self) -> bool {
        matches!(
            self,
            Key::Address
                | Key::Dns
                | Key::PreUp
                | Key::PostUp
                | Key::PreDown
                | Key::PostDown
                | Key::AllowedIps
        )
    }

    pub(crate) fn all_in(interface: bool) -> impl Iterator<Item = Key> {
        ALL.into_iter()
            .filter(move |k| k.in_interface() == interface)
    }
}

/// The known name closest to `word`, if it is close enough to be a likely typo.
pub(crate) fn nearest<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let word = word.to_ascii_lowercase();
    let limit = (word.chars().count() / 3).clamp(1, 3);
    candidates
        .into_iter()
        .map(|c| (distance(&word, &c.to_ascii_lowercase()), c))
        .filter(|&(d, _)| d <= limit)
        .min_by_key(|&(d, _)| d)
        .map(|(_, c)| c)
}

/// Optimal string alignment distance: Levenshtein plus adjacent transpositions, so
/// `Adress` and `PubilcKey` are each one edit from `Address` and `PublicKey`.
fn distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    // Long inputs cannot be typos of short keys; bounding them keeps this cheap.
    if a.len().abs_diff(b.len()) > 3 || a.len() > 64 {
        return usize::MAX;
    }
    let w = b.len() + 1;
    let mut d = vec![0usize; (a.len() + 1) * w];
    for i in 0..=a.len() {
        d[i * w] = i;
    }
    for (j, cell) in d.iter_mut().enumerate().take(w) {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (d[(i - 1) * w + j] + 1)
                .min(d[i * w + j - 1] + 1)
                .min(d[(i - 1) * w + j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(d[(i - 2) * w + j - 2] + 1);
            }
            d[i * w + j] = best;
        }
    }
    d[a.len() * w + b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distances() {
        assert_eq!(distance("adress", "address"), 1);
        assert_eq!(distance("pubilckey", "publickey"), 1);
        assert_eq!(distance("publcky", "publickey"), 2);
        assert_eq!(distance("listenport", "listenport"), 0);
        assert_eq!(distance("", "abc"), 3);
    }

    #[test]
    fn suggestions() {
        let iface = || Key::all_in(true).map(Key::name);
        assert_eq!(nearest("Adress", iface()), Some("Address"));
        assert_eq!(nearest("privatekey", iface()), Some("PrivateKey"));
        assert_eq!(nearest("ListenPrt", iface()), Some("ListenPort"));
        assert_eq!(nearest("DNSS", iface()), Some("DNS"));
        assert_eq!(nearest("Banana", iface()), None);
        let peer = || Key::all_in(false).map(Key::name);
        assert_eq!(nearest("AllowedIP", peer()), Some("AllowedIPs"));
        assert_eq!(nearest("EndPoints", peer()), Some("Endpoint"));
        assert_eq!(
            nearest("PersistentKeepAlive", peer()),
            Some("PersistentKeepalive")
        );
    }
}
