internal import CArchive
import Foundation

/// One tar entry's header as libarchive parsed it.
public struct TarEntryHeader: Sendable {
    public let path: [UInt8]
    /// A regular file's own content: never a hard link (whose content is another entry's).
    public let isRegularFile: Bool
    /// A hard link (tar type 1); libarchive reports it with the regular-file type.
    public let isHardLink: Bool
    public let isSymbolicLink: Bool
    public let symlinkTarget: [UInt8]?
    public let size: Int64
    /// Permission bits and modification time (seconds since 1970) as recorded.
    public let mode: UInt32
    public let modificationTime: Int64
    /// Offset of this entry's first header byte in the uncompressed stream.
    public let streamOffset: Int64
}

/// Reads a tar stream with libarchive, pulling bytes from `source` (which returns an empty buffer
/// at the end of the stream).
public final class TarReader {
    private let archive: OpaquePointer
    private let box: SourceBox

    final class SourceBox {
        let source: () throws -> [UInt8]
        /// Owned storage handed to libarchive: valid until the next callback.
        var storage = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 16, alignment: 16)
        var error: Error?
        init(_ source: @escaping () throws -> [UInt8]) { self.source = source }
        deinit { storage.deallocate() }

        func fill(_ bytes: [UInt8]) -> Int {
            if storage.count < bytes.count {
                storage.deallocate()
                storage = UnsafeMutableRawBufferPointer.allocate(byteCount: bytes.count, alignment: 16)
            }
            bytes.withUnsafeBytes { storage.copyMemory(from: $0) }
            return bytes.count
        }
    }

    public init(source: @escaping () throws -> [UInt8]) throws {
        guard let archive = archive_read_new() else { throw ArchiveIOError(.library, "archive_read_new failed") }
        self.archive = archive
        self.box = SourceBox(source)
        guard archive_read_support_format_tar(archive) == ARCHIVE_OK,
              archive_read_support_filter_none(archive) == ARCHIVE_OK
        else { throw ArchiveIOError(.library, "libarchive setup failed: \(TarWriter.errorText(archive))") }
        let status = archive_read_open(archive, Unmanaged.passUnretained(box).toOpaque(), nil, { _, clientData, bufferOut in
            let box = Unmanaged<SourceBox>.fromOpaque(clientData!).takeUnretainedValue()
            let next: [UInt8]
            do {
                next = try box.source()
            } catch {
                box.error = error
                return -1
            }
            guard !next.isEmpty else { return 0 }
            let count = box.fill(next)
            bufferOut?.pointee = UnsafeRawPointer(box.storage.baseAddress)
            return count
        }, nil)
        guard status == ARCHIVE_OK else {
            throw box.error ?? ArchiveIOError(.malformed, "not a tar stream: \(TarWriter.errorText(archive))")
        }
    }

    deinit { archive_read_free(archive) }

    /// The next entry's header, or nil at the end of the archive.
    public func nextHeader() throws -> TarEntryHeader? {
        var entry: OpaquePointer?
        let status = archive_read_next_header(archive, &entry)
        if let error = box.error { throw error }
        if status == ARCHIVE_EOF { return nil }
        guard status >= ARCHIVE_WARN, let entry else {
            throw ArchiveIOError(.malformed, "bad tar header: \(TarWriter.errorText(archive))")
        }
        let pathPointer = archive_entry_pathname(entry)
        let path = pathPointer.map { Array(UnsafeBufferPointer(start: UnsafeRawPointer($0).assumingMemoryBound(to: UInt8.self), count: strlen($0))) } ?? []
        let type = archive_entry_filetype(entry)
        let target = archive_entry_symlink(entry).map { Array(UnsafeBufferPointer(start: UnsafeRawPointer($0).assumingMemoryBound(to: UInt8.self), count: strlen($0))) }
        let hardLink = archive_entry_hardlink(entry) != nil
        return TarEntryHeader(
            path: path,
            isRegularFile: type == sv_ae_ifreg() && !hardLink,
            isHardLink: hardLink,
            isSymbolicLink: type == sv_ae_iflnk(),
            symlinkTarget: target,
            size: archive_entry_size(entry),
            mode: UInt32(archive_entry_perm(entry)),
            modificationTime: Int64(archive_entry_mtime(entry)),
            streamOffset: archive_read_header_position(archive))
    }

    /// Reads the current entry's data into `buffer`; returns 0 at its end.
    public func readData(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        let read = archive_read_data(archive, buffer.baseAddress, buffer.count)
        if let error = box.error { throw error }
        guard read >= 0 else { throw ArchiveIOError(.malformed, "bad tar data: \(TarWriter.errorText(archive))") }
        return read
    }
}
