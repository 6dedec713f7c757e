//! A scripted culvertd and a scripted terminal for the command tests.
#![allow(dead_code, unreachable_pub)]

use std::cell::RefCell;
use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use clap::Parser as _;
use culvert_cli::{Cli, Connector, Console, Service, exit_code, run};
use culvert_ipc::*;

pub const PUB: &str = "xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg=";
pub const PEER: &str = "TrMvSoP4jYQlY6RIzBgbssQqY3vxI2Pi+y71lOWWXX0=";
pub const PRIV: &str = "yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk=";
pub const PSK: &str = "FpCyhws9cxwWoV4xELtfJvjJN+zQVRPISllRWgeopVE=";

/// The fake clock: 2023-11-14T22:13:20Z.
pub const NOW: u64 = 1_700_000_000;

pub fn name(s: &str) -> TunnelName {
    TunnelName::new(s).unwrap()
}

/// A valid config with a private and a pre-shared key.
pub fn conf() -> String {
    format!(
        "[Interface]\nPrivateKey = {PRIV}\nAddress = 10.0.0.2/32\nDNS = 1.1.1.1\n\n\
         [Peer]\nPublicKey = {PEER}\nPresharedKey = {PSK}\nAllowedIPs = 0.0.0.0/0\n\
         Endpoint = vpn.example.com:51820\n"
    )
}

pub fn summary(n: &str, state: TunnelState, mode: RoutingMode, kill_switch: bool) -> TunnelSummary {
    TunnelSummary {
        name: name(n),
        state,
        routing_mode: mode,
        kill_switch,
    }
}

pub fn detail() -> TunnelDetail {
    TunnelDetail {
        summary: summary("wg0", TunnelState::Active, RoutingMode::Full, true),
        config_text: RedactedConfigText::new(&conf()),
        interface: InterfaceInfo {
            public_key: PUB.to_owned(),
            addresses: vec![
                "10.0.0.2/32".parse().unwrap(),
                "fd00::2/128".parse().unwrap(),
            ],
            dns: vec!["1.1.1.1".to_owned(), "example.com".to_owned()],
            listen_port: Some(51820),
            mtu: None,
        },
        peers: vec![PeerInfo {
            public_key: PEER.to_owned(),
            endpoint: Some("192.0.2.1:51820".to_owned()),
            allowed_ips: vec!["0.0.0.0/0".parse().unwrap(), "::/0".parse().unwrap()],
            has_preshared_key: true,
            latest_handshake_unix: Some(NOW - 63),
            rx_bytes: 1240,
            tx_bytes: 92,
            persistent_keepalive: Some(25),
        }],
    }
}

pub fn service_error(kind: IpcErrorKind, message: &str) -> ClientError {
    ClientError::Service(IpcError::new(kind, message))
}

/// culvertd as a script: the responses to give, in order, and the events to push.
#[derive(Default)]
pub struct Fake {
    pub sent: RefCell<Vec<Request>>,
    pub responses: RefCell<VecDeque<Result<ResponseBody, ClientError>>>,
    pub events: RefCell<VecDeque<Event>>,
    pub connects: RefCell<usize>,
    pub refuse: RefCell<Option<ClientError>>,
}

impl Fake {
    pub fn new() -> Rc<Fake> {
        Rc::new(Fake::default())
    }

    pub fn respond(self: &Rc<Self>, body: ResponseBody) -> Rc<Self> {
        self.responses.borrow_mut().push_back(Ok(body));
        Rc::clone(self)
    }

    pub fn fail(self: &Rc<Self>, error: ClientError) -> Rc<Self> {
        self.responses.borrow_mut().push_back(Err(error));
        Rc::clone(self)
    }

    pub fn push(self: &Rc<Self>, event: Event) -> Rc<Self> {
        self.events.borrow_mut().push_back(event);
        Rc::clone(self)
    }
}

struct FakeService(Rc<Fake>);

impl Service for FakeService {
    fn request(&self, request: Request) -> Result<ResponseBody, ClientError> {
        let answer = self.0.responses.borrow_mut().pop_front();
        let answer = answer.unwrap_or_else(|| panic!("no response scripted for {request:?}"));
        self.0.sent.borrow_mut().push(request);
        answer
    }

    /// The scripted events, then the connection closes (which ends `-f` and `watch`).
    fn next_event(&self, _timeout: Duration) -> Result<Option<Event>, ClientError> {
        match self.0.events.borrow_mut().pop_front() {
            Some(event) => Ok(Some(event)),
            None => Err(ClientError::Disconnected {
                reason: Some("end of the script".to_owned()),
            }),
        }
    }
}

pub struct FakeConnector(pub Rc<Fake>);

impl Connector for FakeConnector {
    fn connect(&mut self, _address: &Path) -> Result<Box<dyn Service>, ClientError> {
        *self.0.connects.borrow_mut() += 1;
        if let Some(e) = self.0.refuse.borrow_mut().take() {
            return Err(e);
        }
        Ok(Box::new(FakeService(Rc::clone(&self.0))))
    }
}

pub type Editor = Box<dyn FnMut(&Path) -> anyhow::Result<()>>;

/// A terminal as a script: whether stdin is one, the answers typed, what is piped
/// into standard input, the editor.
pub struct FakeConsole {
    pub tty: bool,
    pub answers: VecDeque<String>,
    pub input: Vec<u8>,
    pub asked: Vec<String>,
    pub err: Vec<u8>,
    pub editor: Editor,
    pub edited: Vec<PathBuf>,
}

impl FakeConsole {
    pub fn new() -> Self {
        FakeConsole {
            tty: false,
            answers: VecDeque::new(),
            input: Vec::new(),
            asked: Vec::new(),
            err: Vec::new(),
            editor: Box::new(|_| panic!("no editor expected")),
            edited: Vec::new(),
        }
    }

    pub fn tty(answers: &[&str]) -> Self {
        FakeConsole {
            tty: true,
            answers: answers.iter().map(|a| (*a).to_owned()).collect(),
            ..FakeConsole::new()
        }
    }

    /// Standard input is a pipe carrying `input`.
    pub fn piped(input: &[u8]) -> Self {
        FakeConsole {
            input: input.to_vec(),
            ..FakeConsole::new()
        }
    }
}

impl Console for FakeConsole {
    fn stdin_is_terminal(&self) -> bool {
        self.tty
    }

    fn ask(&mut self, prompt: &str) -> std::io::Result<Option<String>> {
        self.asked.push(prompt.to_owned());
        Ok(self.answers.pop_front())
    }

    fn read_input(&mut self, limit: usize) -> std::io::Result<zeroize::Zeroizing<Vec<u8>>> {
        let taken = self.input.len().min(limit + 1);
        Ok(zeroize::Zeroizing::new(self.input[..taken].to_vec()))
    }

    fn err(&mut self) -> &mut dyn std::io::Write {
        &mut self.err
    }

    fn now(&self) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(NOW)
    }

    fn edit(&mut self, path: &Path) -> anyhow::Result<()> {
        self.edited.push(path.to_owned());
        (self.editor)(path)
    }
}

/// What a run did.
pub struct Outcome {
    pub result: anyhow::Result<()>,
    pub out: String,
    pub err: String,
    pub sent: Vec<Request>,
    pub asked: Vec<String>,
    pub connects: usize,
}

impl Outcome {
    /// The exit code `main` would use.
    pub fn code(&self) -> u8 {
        match &self.result {
            Ok(()) => 0,
            Err(e) => exit_code(e),
        }
    }

    /// The error line `main` would print.
    pub fn error(&self) -> String {
        match &self.result {
            Ok(()) => panic!("the command succeeded; output: {}", self.out),
            Err(e) => format!("{e:#}"),
        }
    }

    #[track_caller]
    pub fn ok(self) -> Self {
        if let Err(e) = &self.result {
            panic!("the command failed: {e:#}\nstderr: {}", self.err);
        }
        self
    }
}

/// Runs `culvert ARGS` against `fake` with `console`.
pub fn run_with(args: &[&str], fake: &Rc<Fake>, console: &mut FakeConsole) -> Outcome {
    let cli = Cli::try_parse_from(std::iter::once("culvert").chain(args.iter().copied()))
        .unwrap_or_else(|e| panic!("{args:?} does not parse: {e}"));
    let mut out = Vec::new();
    let result = run(cli, &mut out, &mut FakeConnector(Rc::clone(fake)), console);
    Outcome {
        result,
        out: String::from_utf8(out).unwrap(),
        err: String::from_utf8(std::mem::take(&mut console.err)).unwrap(),
        sent: fake.sent.borrow().clone(),
        asked: std::mem::take(&mut console.asked),
        connects: *fake.connects.borrow(),
    }
}

/// Runs `culvert ARGS` against `fake`, standard input not a terminal.
pub fn run_cli(args: &[&str], fake: &Rc<Fake>) -> Outcome {
    run_with(args, fake, &mut FakeConsole::new())
}

/// A directory removed at the end of the test.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> Self {
        let path = std::env::temp_dir().join(format!(
            "culvert-cli-{}-{tag}-{}",
            std::process::id(),
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap()
                .as_nanos()
        ));
        std::fs::create_dir_all(&path).unwrap();
        TempDir(path)
    }

    pub fn join(&self, p: &str) -> PathBuf {
        self.0.join(p)
    }

    pub fn path(&self, p: &str) -> String {
        self.join(p).display().to_string()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
