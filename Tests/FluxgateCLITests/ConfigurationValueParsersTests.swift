import Foundation
import Testing

@testable import FluxgateCLI

/// Parsers for settings whose checks the commands can use at start-up.
@Suite struct ConfigurationValueParsersTests {
    @Test(arguments: ["https://dash.example.com", "http://127.0.0.1:8080", "https://[::1]:8443", "http://[::1]", "http://localhost"])
    func validOrigins(_ text: String) {
        #expect(ValueParsers.origin(text) == text)
    }

    @Test(arguments: [
        "", "dash.example.com", "ftp://a", "https://", "https://a/", "https://a/path", "https://a:99999", "https://a:",
        "https://user@a", "https://a b", "HTTPS//a",
    ])
    func invalidOrigins(_ text: String) {
        #expect(ValueParsers.origin(text) == nil)
    }

    @Test func originLists() {
        #expect(ValueParsers.originList("https://a.example, http://b.example:8080") == ["https://a.example", "http://b.example:8080"])
        #expect(ValueParsers.originList("https://a.example,") == nil)
        #expect(ValueParsers.originList("https://a.example,b.example") == nil)
    }

    @Test func existingDirectories() throws {
        let directory = FileManager.default.temporaryDirectory.path
        #expect(ValueParsers.existingDirectory(directory) == directory)
        #expect(ValueParsers.existingDirectory("/nonexistent/fluxgate") == nil)
        #expect(ValueParsers.existingDirectory("") == nil)
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("fluxgate-parser-test-\(UUID().uuidString)")
        try Data().write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }
        #expect(ValueParsers.existingDirectory(file.path) == nil)
    }
}
