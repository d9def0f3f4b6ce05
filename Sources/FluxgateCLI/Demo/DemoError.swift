/// Why `fluxgate demo` could not start, with what to do about it.
struct DemoError: Error, CustomStringConvertible, Sendable {
    /// A stable code for programs and tests.
    enum Code: String, Sendable {
        /// No `mosquitto` executable was found.
        case mosquittoNotInstalled = "mosquitto-not-installed"
        /// mosquitto exited or did not listen in time.
        case mosquittoStartFailed = "mosquitto-start-failed"
        /// The temporary folder or the configuration could not be written.
        case setupFailed = "setup-failed"
    }

    var code: Code
    var message: String

    init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    var description: String { message }

    /// The process exit status for this error: 69 (EX_UNAVAILABLE) when mosquitto is missing,
    /// 70 (EX_SOFTWARE) otherwise.
    var exitCode: Int32 { code == .mosquittoNotInstalled ? 69 : 70 }
}
