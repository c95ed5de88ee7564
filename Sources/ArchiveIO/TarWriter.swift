internal import CArchive
import Foundation

/// What a tar entry is.
public enum TarEntryKind: Sendable, Equatable {
    case regularFile(size: Int64)
    case symbolicLink(target: [UInt8])
    /// Pack never writes these two; they exist so that tests and tools can make the hostile
    /// archives readers must refuse.
    case hardLink(target: [UInt8])
    case fifo
}

/// Writes a POSIX pax tar stream with libarchive and hands every byte it produces to `sink`
/// unbuffered, so callers can cut the stream at entry boundaries.
public final class TarWriter {
    private let archive: OpaquePointer
    private let box: SinkBox
    private var closed = false

    final class SinkBox {
        let sink: (UnsafeRawBufferPointer) throws -> Void
        var error: Error?
        /// Cleared on deinit: the end blocks libarchive writes while being freed go nowhere, since
        /// the sink's owner may be gone.
        var active = true
        init(_ sink: @escaping (UnsafeRawBufferPointer) throws -> Void) { self.sink = sink }
    }

    public init(sink: @escaping (UnsafeRawBufferPointer) throws -> Void) throws {
        guard let archive = archive_write_new() else { throw ArchiveIOError(.library, "archive_write_new failed") }
        self.archive = archive
        self.box = SinkBox(sink)
        guard archive_write_set_format_pax_restricted(archive) == ARCHIVE_OK,
              archive_write_add_filter_none(archive) == ARCHIVE_OK,
              archive_write_set_bytes_per_block(archive, 0) == ARCHIVE_OK
        else { throw ArchiveIOError(.library, "libarchive setup failed: \(TarWriter.errorText(archive))") }
        let status = archive_write_open2(archive, Unmanaged.passUnretained(box).toOpaque(), nil, { _, clientData, buffer, length in
            let box = Unmanaged<SinkBox>.fromOpaque(clientData!).takeUnretainedValue()
            guard box.active else { return length }
            do {
                try box.sink(UnsafeRawBufferPointer(start: buffer, count: length))
                return length
            } catch {
                box.error = error
                return -1
            }
        }, nil, nil)
        guard status == ARCHIVE_OK else { throw ArchiveIOError(.library, "cannot open tar writer: \(TarWriter.errorText(archive))") }
    }

    deinit {
        box.active = false
        archive_write_free(archive)
    }

    /// Writes an entry header. `path` is the raw name (not necessarily UTF-8).
    public func writeHeader(path: [UInt8], kind: TarEntryKind, mode: UInt32, modificationTime: Int64) throws {
        guard let entry = archive_entry_new() else { throw ArchiveIOError(.library, "archive_entry_new failed") }
        defer { archive_entry_free(entry) }
        path.withUnsafeBufferPointer { buffer in
            var terminated = Array(buffer)
            terminated.append(0)
            terminated.withUnsafeBufferPointer { archive_entry_copy_pathname(entry, UnsafeRawPointer($0.baseAddress!).assumingMemoryBound(to: CChar.self)) }
        }
        switch kind {
        case .regularFile(let size):
            archive_entry_set_filetype(entry, sv_ae_ifreg())
            archive_entry_set_size(entry, size)
        case .symbolicLink(let target):
            archive_entry_set_filetype(entry, sv_ae_iflnk())
            archive_entry_set_size(entry, 0)
            var terminated = target
            terminated.append(0)
            terminated.withUnsafeBufferPointer { archive_entry_copy_symlink(entry, UnsafeRawPointer($0.baseAddress!).assumingMemoryBound(to: CChar.self)) }
        case .hardLink(let target):
            archive_entry_set_filetype(entry, sv_ae_ifreg())
            archive_entry_set_size(entry, 0)
            var terminated = target
            terminated.append(0)
            terminated.withUnsafeBufferPointer { archive_entry_copy_hardlink(entry, UnsafeRawPointer($0.baseAddress!).assumingMemoryBound(to: CChar.self)) }
        case .fifo:
            archive_entry_set_filetype(entry, sv_ae_ififo())
            archive_entry_set_size(entry, 0)
        }
        archive_entry_set_perm(entry, mode_t(mode & 0o7777))
        archive_entry_set_mtime(entry, time_t(modificationTime), 0)
        archive_entry_set_uid(entry, 0)
        archive_entry_set_gid(entry, 0)
        let status = archive_write_header(archive, entry)
        try check(status, "cannot write tar header")
    }

    public func writeData(_ buffer: UnsafeRawBufferPointer) throws {
        guard buffer.count > 0 else { return }
        let written = archive_write_data(archive, buffer.baseAddress, buffer.count)
        if written < 0 { try check(Int32(written), "cannot write tar data") }
        if written != buffer.count { throw box.error ?? ArchiveIOError(.library, "short tar write: \(TarWriter.errorText(archive))") }
    }

    /// Ends the entry (pads its data to a 512-byte block).
    public func finishEntry() throws {
        try check(archive_write_finish_entry(archive), "cannot finish tar entry")
    }

    /// Writes the end-of-archive blocks.
    public func close() throws {
        closed = true
        try check(archive_write_close(archive), "cannot close tar stream")
    }

    private func check(_ status: Int32, _ what: String) throws {
        if let error = box.error { box.error = nil; throw error }
        guard status >= ARCHIVE_WARN else { throw ArchiveIOError(.library, "\(what): \(TarWriter.errorText(archive))") }
    }

    static func errorText(_ archive: OpaquePointer) -> String {
        archive_error_string(archive).map { String(cString: $0) } ?? "unknown libarchive error"
    }
}
