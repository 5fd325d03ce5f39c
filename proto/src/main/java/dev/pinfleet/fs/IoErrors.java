package dev.pinfleet.fs;

import java.io.IOException;
import java.nio.file.AccessDeniedException;
import java.nio.file.DirectoryNotEmptyException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileSystemException;
import java.nio.file.NoSuchFileException;
import java.nio.file.NotDirectoryException;

/**
 * An I/O failure in words an operator can act on. The JDK's file-system exceptions carry only the path as their
 * message ({@code AccessDeniedException: /var/lib/pinfleet/store}): the reason is in the exception's type, which a
 * message must not show. This names the path and the reason.
 */
public final class IoErrors {
    private IoErrors() {}

    /** "PATH: REASON" for a file-system failure; the message (never null) otherwise. */
    public static String describe(IOException e) {
        if (e instanceof FileSystemException f) {
            String path = f.getFile() == null ? "" : f.getFile() + (f.getOtherFile() == null ? "" : " -> " + f.getOtherFile());
            String reason = f instanceof AccessDeniedException ? "permission denied (not writable or not readable by "
                    + "this user " + System.getProperty("user.name") + ")"
                    : f instanceof NoSuchFileException ? "does not exist"
                    : f instanceof FileAlreadyExistsException ? "already exists"
                    : f instanceof NotDirectoryException ? "not a directory"
                    : f instanceof DirectoryNotEmptyException ? "directory not empty"
                    : f.getReason() != null ? f.getReason() : "file system error";
            return path.isEmpty() ? reason : path + ": " + reason;
        }
        if (e.getCause() instanceof FileSystemException f && f != e) {
            return describe(f);
        }
        String m = e.getMessage();
        return m == null || m.isBlank() ? "input/output error" : m;
    }
}
