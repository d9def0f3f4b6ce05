import Foundation

/// Executables of this package, built next to the test bundle by `swift build`.
public enum BuiltExecutable {
    /// The path of executable `name` in the build folder the running tests came from.
    ///
    /// - Throws: `FixtureError` `not-built` when it is missing: run `swift build` first (the
    ///   test command does).
    public static func path(_ name: String) throws -> String {
        let testBinary = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        var directory = testBinary.deletingLastPathComponent()
        // The test bundle is `.../debug/<package>PackageTests.xctest` (a file on Linux, a folder elsewhere).
        while directory.pathComponents.count > 1 {
            let candidate = directory.appendingPathComponent(name).path
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
            if directory.lastPathComponent == "debug" || directory.lastPathComponent == "release" { break }
            directory.deleteLastPathComponent()
        }
        throw FixtureError(
            code: "not-built",
            message: "executable '\(name)' not found next to \(testBinary.path): run `swift build` before the tests"
        )
    }
}
