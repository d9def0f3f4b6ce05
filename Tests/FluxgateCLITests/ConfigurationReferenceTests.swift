import Foundation
import FluxgateTesting
import Testing

@testable import FluxgateCLI

/// docs/configuration.md against the option definitions of the built executable
/// (`fluxgate --experimental-dump-help`): every option of every subcommand is documented with
/// its environment variable and default, and nothing documented is gone.
@Suite("docs/configuration.md lists every option of every subcommand")
struct ConfigurationReferenceTests {
    /// One option as swift-argument-parser describes it.
    struct Option: Hashable {
        var name: String
        var environmentVariable: String?
        var defaultValue: String?
    }

    /// One documented row: `| `--name` | `ENV` | key | default | ... |`.
    struct Row: Hashable {
        var name: String
        var environment: String
        var yamlKey: String
        var defaultValue: String
    }

    /// The reference split into `### ` sections: heading -> (rows, linked shared sections).
    struct Reference {
        var rows: [String: [Row]] = [:]
        var shared: [String: [String]] = [:]

        func rows(caseInsensitive heading: String) -> [Row]? {
            rows.first { $0.key.lowercased() == heading.lowercased() }?.value
        }
    }

    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// Every subcommand with options, by its full name (`fluxgate deadletter list`).
    static func commands() async throws -> [String: [Option]] {
        let child = try ChildProcess.spawn(try BuiltExecutable.path("fluxgate"), arguments: ["--experimental-dump-help"])
        defer { child.kill() }
        #expect(try await child.waitForExit(timeout: .seconds(30)) == 0)
        // The output handler may still be reading: wait for the whole document.
        func parsed(_ lines: [String]) -> [String: Any]? {
            try? JSONSerialization.jsonObject(with: Data(lines.joined(separator: "\n").utf8)) as? [String: Any]
        }
        try await child.waitForOutput(timeout: .seconds(10)) { parsed($0) != nil }
        let dump = try #require(parsed(child.outputLines))
        var result: [String: [Option]] = [:]
        func walk(_ command: [String: Any], _ path: [String]) {
            let options = (command["arguments"] as? [[String: Any]] ?? []).compactMap { argument -> Option? in
                guard ["option", "flag"].contains(argument["kind"] as? String),
                    let name = (argument["names"] as? [[String: Any]])?.first(where: { ($0["kind"] as? String) == "long" })?["name"] as? String,
                    name != "help"
                else { return nil }
                let abstract = argument["abstract"] as? String ?? ""
                return Option(
                    name: name,
                    environmentVariable: bracketed("env", in: abstract),
                    defaultValue: bracketed("default", in: abstract) ?? argument["defaultValue"] as? String)
            }
            if !options.isEmpty { result[path.joined(separator: " ")] = options }
            for sub in command["subcommands"] as? [[String: Any]] ?? [] {
                guard let name = sub["commandName"] as? String, name != "help" else { continue }
                walk(sub, path + [name])
            }
        }
        walk(try #require(dump["command"] as? [String: Any]), ["fluxgate"])
        return result
    }

    /// `X` from `[key: X]`.
    static func bracketed(_ key: String, in text: String) -> String? {
        guard let start = text.range(of: "[\(key): ") else { return nil }
        guard let end = text[start.upperBound...].firstIndex(of: "]") else { return nil }
        return String(text[start.upperBound..<end])
    }

    static func reference() throws -> Reference {
        let text = try String(contentsOf: root.appendingPathComponent("docs/configuration.md"), encoding: .utf8)
        var reference = Reference()
        var section = ""
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("### ") {
                section = line.dropFirst(4).trimmingCharacters(in: .whitespaces).replacingOccurrences(of: "`", with: "")
                reference.rows[section] = []
            } else if line.hasPrefix("Shared options:") {
                // [common options](#common-options), ... -> "common options", ... (headings, case aside)
                reference.shared[section] = line.split(separator: "[").dropFirst().compactMap { part in
                    part.split(separator: "]").first.map { $0.lowercased() }
                }
            } else if line.hasPrefix("| `--") {
                let cells = line.split(separator: "|", omittingEmptySubsequences: false).map {
                    $0.trimmingCharacters(in: .whitespaces).replacingOccurrences(of: "`", with: "")
                }
                guard cells.count >= 6 else { continue }
                reference.rows[section, default: []].append(
                    Row(name: String(cells[1].dropFirst(2)), environment: cells[2], yamlKey: cells[3], defaultValue: cells[4]))
            }
        }
        return reference
    }

    @Test("every option is documented in its command's section or a shared section it links, nothing stale", .timeLimit(.minutes(1)))
    func everyOptionDocumented() async throws {
        let commands = try await Self.commands()
        let reference = try Self.reference()
        #expect(commands.keys.contains("fluxgate deadletter replay") && commands.count >= 8)
        for (command, options) in commands.sorted(by: { $0.key < $1.key }) {
            let own = try #require(reference.rows[command], "docs/configuration.md has no section '### `\(command)`'")
            let linked = reference.shared[command] ?? []
            var documented: [String: Row] = [:]
            for section in linked {
                let rows = try #require(reference.rows(caseInsensitive: section), "\(command) links '\(section)', which has no section")
                for row in rows { documented[row.name] = row }
            }
            for row in own { documented[row.name] = row }
            for option in options {
                guard let row = documented[option.name] else {
                    Issue.record("\(command) --\(option.name) is not in docs/configuration.md: add a row for it")
                    continue
                }
                #expect(row.environment == (option.environmentVariable ?? "—"), "\(command) --\(option.name): environment variable")
                if let variable = option.environmentVariable {
                    // The help text names the variable the resolver reads.
                    #expect(variable == Setting(option.name, default: nil, help: "").environmentVariable, "\(command) --\(option.name)")
                    #expect(row.yamlKey == (option.name == "config" ? "—" : option.name), "\(command) --\(option.name): YAML key")
                }
                if let value = option.defaultValue {
                    #expect(row.defaultValue == value, "\(command) --\(option.name): default '\(value)' in --help, '\(row.defaultValue)' in the docs")
                }
            }
            let names = Set(options.map(\.name))
            for stale in Set(own.map(\.name)).subtracting(names) {
                Issue.record("docs/configuration.md documents \(command) --\(stale), which the command does not take")
            }
            for section in linked {
                for row in reference.rows(caseInsensitive: section) ?? [] where !names.contains(row.name) {
                    Issue.record("\(command) links '\(section)', but does not take its --\(row.name)")
                }
            }
        }
    }

    @Test("README links the configuration reference")
    func readmeLinks() throws {
        let readme = try String(contentsOf: Self.root.appendingPathComponent("README.md"), encoding: .utf8)
        #expect(readme.contains("(docs/configuration.md)"))
    }
}
