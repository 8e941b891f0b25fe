//! What the sign-in page sends over its WebSocket, and how each message
//! becomes a DevTools `Input.*` command on the live tab.
//!
//! The page maps a pointer on the shown frame to the tab's viewport in CSS
//! pixels itself (it has the frame's metadata; see `page.js`), so every
//! coordinate here is already a viewport coordinate, which is what
//! `Input.dispatchMouseEvent` and `Input.dispatchTouchEvent` take. The
//! server clamps each one to the viewport it set, and bounds text length,
//! so a page (or anyone holding the link) cannot send anything but input.
//!
//! Nothing here is logged: keys and text are what the owner types into a
//! store's sign-in form.

use chromiumoxide::cdp::browser_protocol::input::{
    DispatchKeyEventParams, DispatchKeyEventType, DispatchMouseEventParams, DispatchMouseEventType,
    DispatchTouchEventParams, DispatchTouchEventReturns, DispatchTouchEventType, InsertTextParams,
    MouseButton, TouchPoint,
};
use chromiumoxide::types::{Method, MethodId};
use serde::{Deserialize, Serialize};

/// The longest text one message may insert (a pasted password fits).
pub const MAX_TEXT: usize = 4096;
/// The most touch points one message may carry.
const MAX_TOUCHES: usize = 5;

/// One message from the page.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "t", rename_all = "lowercase")]
pub enum ClientMsg {
    /// The size of the area the page shows the tab in (CSS pixels), its
    /// pixel ratio, and whether it has touch; sent first and on resize.
    Viewport {
        w: f64,
        h: f64,
        #[serde(default = "one")]
        dpr: f64,
        #[serde(default)]
        touch: bool,
    },
    Mouse {
        /// `down`, `up`, `move`.
        e: String,
        x: f64,
        y: f64,
        /// `left`, `middle`, `right`, `none`.
        #[serde(default)]
        b: Option<String>,
        /// Click count for down/up.
        #[serde(default)]
        n: Option<i64>,
        /// Modifier bits: Alt=1, Ctrl=2, Meta=4, Shift=8.
        #[serde(default)]
        m: i64,
    },
    Wheel {
        x: f64,
        y: f64,
        dx: f64,
        dy: f64,
    },
    Touch {
        /// `start`, `move`, `end`, `cancel`.
        e: String,
        #[serde(default)]
        p: Vec<Point>,
    },
    /// A named key (`Enter`, `Backspace`, `Tab`, an arrow, or one
    /// character with modifiers, e.g. Ctrl+A).
    Key {
        key: String,
        #[serde(default)]
        m: i64,
    },
    /// Typed or pasted text, inserted as the keyboard's IME would.
    Text {
        text: String,
    },
    /// `back` or `reload`.
    Nav {
        to: String,
    },
}

fn one() -> f64 {
    1.0
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Point {
    pub x: f64,
    pub y: f64,
    #[serde(default)]
    pub id: f64,
}

impl ClientMsg {
    /// Counts as the person's input for the idle limit (a viewport change
    /// does not: a phone rotating on a table is not someone signing in).
    pub fn is_input(&self) -> bool {
        !matches!(self, ClientMsg::Viewport { .. })
    }
}

/// The tab's viewport: what coordinates are clamped to.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Viewport {
    pub width: f64,
    pub height: f64,
}

impl Viewport {
    /// The viewport for a page area of `w` x `h` CSS pixels: the page's own
    /// size (so the store lays out for the phone and the frame shows 1:1),
    /// within 320..1280 x 400..1280.
    pub fn fit(w: f64, h: f64) -> Viewport {
        let sane = |v: f64, lo: f64, hi: f64| if v.is_finite() { v.clamp(lo, hi) } else { hi };
        Viewport {
            width: sane(w, 320.0, 1280.0).round(),
            height: sane(h, 400.0, 1280.0).round(),
        }
    }

    fn clamp(&self, x: f64, y: f64) -> (f64, f64) {
        let c = |v: f64, max: f64| {
            if v.is_finite() {
                v.clamp(0.0, max)
            } else {
                0.0
            }
        };
        (c(x, self.width - 1.0), c(y, self.height - 1.0))
    }
}

/// `Input.dispatchTouchEvent` that always sends `touchPoints`:
/// chromiumoxide's generated parameters leave an empty list out, and
/// Chromium refuses a `touchEnd` without the (empty) list.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TouchEvent {
    #[serde(rename = "type")]
    pub kind: DispatchTouchEventType,
    #[serde(rename = "touchPoints")]
    pub touch_points: Vec<TouchPoint>,
}

impl Method for TouchEvent {
    fn identifier(&self) -> MethodId {
        DispatchTouchEventParams::IDENTIFIER.into()
    }
}

impl chromiumoxide::types::Command for TouchEvent {
    type Response = DispatchTouchEventReturns;
}

/// One CDP command to run for a message.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    Mouse(DispatchMouseEventParams),
    Touch(TouchEvent),
    Key(DispatchKeyEventParams),
    Text(InsertTextParams),
    /// A history step or a reload, done by script.
    Script(&'static str),
}

/// Why a message was dropped (answered on the socket, never logged with
/// its content).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejected(pub &'static str);

/// The commands for one input message (`Viewport` is handled by the live
/// session, not here).
pub fn commands(msg: &ClientMsg, view: &Viewport) -> Result<Vec<Command>, Rejected> {
    Ok(match msg {
        ClientMsg::Viewport { .. } => Vec::new(),
        ClientMsg::Mouse { e, x, y, b, n, m } => {
            let kind = match e.as_str() {
                "down" => DispatchMouseEventType::MousePressed,
                "up" => DispatchMouseEventType::MouseReleased,
                "move" => DispatchMouseEventType::MouseMoved,
                _ => return Err(Rejected("unknown mouse event")),
            };
            let button = match b.as_deref().unwrap_or("none") {
                "left" => MouseButton::Left,
                "middle" => MouseButton::Middle,
                "right" => MouseButton::Right,
                "none" => MouseButton::None,
                _ => return Err(Rejected("unknown mouse button")),
            };
            let (x, y) = view.clamp(*x, *y);
            let mut p = DispatchMouseEventParams::new(kind, x, y);
            p.button = Some(button);
            p.modifiers = Some(m & 0xF);
            p.click_count = n.map(|n| n.clamp(0, 3));
            vec![Command::Mouse(p)]
        }
        ClientMsg::Wheel { x, y, dx, dy } => {
            let (x, y) = view.clamp(*x, *y);
            let d = |v: f64| {
                if v.is_finite() {
                    v.clamp(-5000.0, 5000.0)
                } else {
                    0.0
                }
            };
            let mut p = DispatchMouseEventParams::new(DispatchMouseEventType::MouseWheel, x, y);
            p.delta_x = Some(d(*dx));
            p.delta_y = Some(d(*dy));
            vec![Command::Mouse(p)]
        }
        ClientMsg::Touch { e, p } => {
            let kind = match e.as_str() {
                "start" => DispatchTouchEventType::TouchStart,
                "move" => DispatchTouchEventType::TouchMove,
                "end" => DispatchTouchEventType::TouchEnd,
                "cancel" => DispatchTouchEventType::TouchCancel,
                _ => return Err(Rejected("unknown touch event")),
            };
            if p.len() > MAX_TOUCHES {
                return Err(Rejected("too many touch points"));
            }
            let ends = matches!(
                kind,
                DispatchTouchEventType::TouchEnd | DispatchTouchEventType::TouchCancel
            );
            if !ends && p.is_empty() {
                return Err(Rejected("a touch start or move needs a point"));
            }
            let points = if ends {
                Vec::new()
            } else {
                p.iter()
                    .map(|pt| {
                        let (x, y) = view.clamp(pt.x, pt.y);
                        let mut tp = TouchPoint::new(x, y);
                        tp.id = Some(pt.id.clamp(0.0, 1000.0));
                        tp
                    })
                    .collect()
            };
            vec![Command::Touch(TouchEvent {
                kind,
                touch_points: points,
            })]
        }
        ClientMsg::Key { key, m } => key_commands(key, m & 0xF)?,
        ClientMsg::Text { text } => {
            if text.chars().count() > MAX_TEXT {
                return Err(Rejected("text longer than 4096 characters"));
            }
            if text.is_empty() {
                Vec::new()
            } else {
                vec![Command::Text(InsertTextParams::new(text.clone()))]
            }
        }
        ClientMsg::Nav { to } => match to.as_str() {
            "back" => vec![Command::Script("history.back(); true")],
            "reload" => vec![Command::Script("location.reload(); true")],
            _ => return Err(Rejected("unknown navigation")),
        },
    })
}

/// (key, code, Windows virtual key code, text) for the named keys a sign-in
/// form needs.
const NAMED: &[(&str, &str, i64, &str)] = &[
    ("Enter", "Enter", 13, "\r"),
    ("Backspace", "Backspace", 8, ""),
    ("Tab", "Tab", 9, ""),
    ("Escape", "Escape", 27, ""),
    ("Delete", "Delete", 46, ""),
    ("ArrowLeft", "ArrowLeft", 37, ""),
    ("ArrowUp", "ArrowUp", 38, ""),
    ("ArrowRight", "ArrowRight", 39, ""),
    ("ArrowDown", "ArrowDown", 40, ""),
    ("Home", "Home", 36, ""),
    ("End", "End", 35, ""),
    ("PageUp", "PageUp", 33, ""),
    ("PageDown", "PageDown", 34, ""),
    (" ", "Space", 32, " "),
];

/// keyDown (with the text it types, if any) and keyUp for one key.
fn key_commands(key: &str, modifiers: i64) -> Result<Vec<Command>, Rejected> {
    let shortcut = modifiers & (1 | 2 | 4) != 0;
    let (code, vk, text) = if let Some((_, code, vk, text)) = NAMED.iter().find(|k| k.0 == key) {
        (code.to_string(), *vk, text.to_string())
    } else {
        let mut chars = key.chars();
        let (Some(c), None) = (chars.next(), chars.next()) else {
            return Err(Rejected("unknown key"));
        };
        let upper = c.to_ascii_uppercase();
        let (code, vk) = if upper.is_ascii_alphabetic() {
            (format!("Key{upper}"), upper as i64)
        } else if c.is_ascii_digit() {
            (format!("Digit{c}"), c as i64)
        } else {
            (String::new(), 0)
        };
        (code, vk, c.to_string())
    };
    // A shortcut (Ctrl+A) types nothing; neither does a key without text.
    let typed = if shortcut { String::new() } else { text };
    let mut down = DispatchKeyEventParams::new(if typed.is_empty() {
        DispatchKeyEventType::RawKeyDown
    } else {
        DispatchKeyEventType::KeyDown
    });
    down.key = Some(key.to_string());
    down.code = Some(code.clone());
    down.windows_virtual_key_code = Some(vk);
    down.modifiers = Some(modifiers);
    if !typed.is_empty() {
        down.text = Some(typed.clone());
        down.unmodified_text = Some(typed);
    }
    if shortcut && key.eq_ignore_ascii_case("a") {
        down.commands = Some(vec!["selectAll".into()]);
    }
    let mut up = DispatchKeyEventParams::new(DispatchKeyEventType::KeyUp);
    up.key = Some(key.to_string());
    up.code = Some(code);
    up.windows_virtual_key_code = Some(vk);
    up.modifiers = Some(modifiers);
    Ok(vec![Command::Key(down), Command::Key(up)])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(json: &str) -> ClientMsg {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn pointer_input_is_clamped_to_the_viewport() {
        let view = Viewport::fit(390.0, 700.0);
        assert_eq!(
            view,
            Viewport {
                width: 390.0,
                height: 700.0
            }
        );
        assert_eq!(
            Viewport::fit(5000.0, 10.0),
            Viewport {
                width: 1280.0,
                height: 400.0
            }
        );
        let msg = parse(r#"{"t":"mouse","e":"down","x":9999,"y":-5,"b":"left","n":1}"#);
        let Command::Mouse(p) = &commands(&msg, &view).unwrap()[0] else {
            panic!()
        };
        assert_eq!((p.x, p.y), (389.0, 0.0));
        assert_eq!(p.r#type, DispatchMouseEventType::MousePressed);
        let tap = parse(r#"{"t":"touch","e":"start","p":[{"x":10,"y":20,"id":0}]}"#);
        let Command::Touch(t) = &commands(&tap, &view).unwrap()[0] else {
            panic!()
        };
        assert_eq!((t.touch_points[0].x, t.touch_points[0].y), (10.0, 20.0));
        let end = parse(r#"{"t":"touch","e":"end","p":[{"x":10,"y":20}]}"#);
        let Command::Touch(t) = &commands(&end, &view).unwrap()[0] else {
            panic!()
        };
        assert!(t.touch_points.is_empty(), "touchEnd carries no points");
        let sent = serde_json::to_value(t).unwrap();
        assert_eq!(sent["touchPoints"], serde_json::json!([]), "but says so");
    }

    #[test]
    fn keys_and_text_become_key_events_and_insert_text() {
        let view = Viewport::fit(800.0, 600.0);
        let enter = commands(&parse(r#"{"t":"key","key":"Enter"}"#), &view).unwrap();
        let Command::Key(down) = &enter[0] else {
            panic!()
        };
        assert_eq!(down.text.as_deref(), Some("\r"));
        assert_eq!(down.windows_virtual_key_code, Some(13));
        let back = commands(&parse(r#"{"t":"key","key":"Backspace"}"#), &view).unwrap();
        let Command::Key(down) = &back[0] else {
            panic!()
        };
        assert_eq!(down.r#type, DispatchKeyEventType::RawKeyDown);
        let select = commands(&parse(r#"{"t":"key","key":"a","m":2}"#), &view).unwrap();
        let Command::Key(down) = &select[0] else {
            panic!()
        };
        assert!(down.text.is_none());
        assert_eq!(
            down.commands.as_deref(),
            Some(&["selectAll".to_string()][..])
        );
        assert!(commands(&parse(r#"{"t":"key","key":"Launch"}"#), &view).is_err());
        let text = commands(&parse(r#"{"t":"text","text":"demo@example.com"}"#), &view).unwrap();
        assert_eq!(
            text,
            vec![Command::Text(InsertTextParams::new("demo@example.com"))]
        );
        let long = format!(r#"{{"t":"text","text":"{}"}}"#, "x".repeat(MAX_TEXT + 1));
        assert!(commands(&parse(&long), &view).is_err());
        assert!(serde_json::from_str::<ClientMsg>(r#"{"t":"eval","js":"1"}"#).is_err());
        assert!(!parse(r#"{"t":"viewport","w":1,"h":1}"#).is_input());
    }
}
