//! The live view's full screen on a terminal.

/// A full-screen view on a terminal: key presses arrive one by one without echo, so 'q' (or Ctrl-C, which arrives as
/// a key too) quits at once, and the terminal is left as it was found, whichever way the view ends.
pub struct Screen {
    saved: nix::sys::termios::Termios,
}

impl Screen {
    /// `None` when stdin or stdout is not a terminal: then there are no keys to read and nothing to restore.
    pub fn enter() -> Option<Screen> {
        use nix::sys::termios::{LocalFlags, SetArg, SpecialCharacterIndices, tcgetattr, tcsetattr};
        use std::io::IsTerminal;
        if !std::io::stdin().is_terminal() || !std::io::stdout().is_terminal() {
            return None;
        }
        let saved = tcgetattr(std::io::stdin()).ok()?;
        let mut keys = saved.clone();
        keys.local_flags.remove(LocalFlags::ICANON | LocalFlags::ECHO | LocalFlags::ISIG);
        keys.control_chars[SpecialCharacterIndices::VMIN as usize] = 1;
        keys.control_chars[SpecialCharacterIndices::VTIME as usize] = 0;
        tcsetattr(std::io::stdin(), SetArg::TCSANOW, &keys).ok()?;
        // The alternate screen, cursor hidden: quitting gives the user back the terminal they had.
        print!("\x1b[?1049h\x1b[?25l");
        let screen = Screen { saved };
        let restore = screen.saved.clone();
        std::thread::spawn(move || {
            let mut key = [0u8; 1];
            while std::io::Read::read(&mut std::io::stdin(), &mut key).is_ok_and(|n| n == 1) {
                if matches!(key[0], b'q' | b'Q' | 0x03) {
                    leave(&restore);
                    std::process::exit(0);
                }
            }
        });
        Some(screen)
    }
}

impl Drop for Screen {
    fn drop(&mut self) {
        leave(&self.saved);
    }
}

fn leave(saved: &nix::sys::termios::Termios) {
    print!("\x1b[?25h\x1b[?1049l");
    let _ = std::io::Write::flush(&mut std::io::stdout());
    let _ = nix::sys::termios::tcsetattr(std::io::stdin(), nix::sys::termios::SetArg::TCSANOW, saved);
}
