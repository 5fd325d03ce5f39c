package dev.pinfleet.agent.fetch;

import static dev.pinfleet.agent.fetch.FetcherTest.assertContains;
import static dev.pinfleet.agent.fetch.PlainHttpDownloadTest.bytes;
import static dev.pinfleet.agent.fetch.PlainHttpDownloadTest.concat;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.pinfleet.agent.fetch.PlainHttpDownload.ChunkedBody;
import dev.pinfleet.agent.fetch.PlainHttpDownload.LimitedBody;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import org.junit.jupiter.api.Test;

/**
 * The two body framings of the plain-socket transport, as the input streams they are, over bytes in memory: where a
 * body ends (never reading into what follows it on the connection), what a body cut short is, and the edges of the
 * chunked framing. Bytes of every value pass, read one at a time or in blocks.
 */
class ResponseBodiesTest {
    /** Body bytes including 0x00, 0x80 and 0xff (a byte is not a char, and 0 is not an end). */
    private static final byte[] DATA = {7, 0, (byte) 0x80, (byte) 0xff, 42};
    private static final byte[] NEXT = bytes("HTTP/1.1 200 OK\r\n");

    // --- Content-Length ---

    @Test
    void aContentLengthBodyReadByteByByteEndsAtItsLength() throws IOException {
        ByteArrayInputStream connection = new ByteArrayInputStream(concat(DATA, NEXT));
        LimitedBody body = new LimitedBody(connection, DATA.length);

        assertArrayEquals(DATA, readByteByByte(body));
        assertEquals(-1, body.read(), "and stays at its end");
        assertEquals(-1, body.read(new byte[8], 0, 8));
        assertEquals(NEXT.length, connection.available(), "nothing read beyond the body");
    }

    @Test
    void aContentLengthBodyReadInBlocksEndsAtItsLength() throws IOException {
        ByteArrayInputStream connection = new ByteArrayInputStream(concat(DATA, NEXT));
        LimitedBody body = new LimitedBody(connection, DATA.length);

        assertArrayEquals(DATA, body.readAllBytes());
        assertEquals(NEXT.length, connection.available(), "nothing read beyond the body");
    }

    @Test
    void aConnectionClosedBeforeTheContentLengthIsALostConnectionSayingHowMuchWasDue() throws IOException {
        LimitedBody byByte = new LimitedBody(new ByteArrayInputStream(DATA), 8);
        for (byte b : DATA) {
            assertEquals(b & 0xff, byByte.read());
        }
        IOException e = assertThrows(IOException.class, byByte::read);
        assertEquals("connection closed with 3 bytes of the announced Content-Length due", e.getMessage());

        LimitedBody inBlocks = new LimitedBody(new ByteArrayInputStream(DATA), 8);
        assertEquals(DATA.length, inBlocks.read(new byte[16], 0, 16));
        IOException again = assertThrows(IOException.class, () -> inBlocks.read(new byte[16], 0, 16));
        assertEquals("connection closed with 3 bytes of the announced Content-Length due", again.getMessage());
    }

    // --- chunked ---

    @Test
    void aChunkedBodyReadByteByByteGivesTheChunksDataAndStaysAtItsEnd() throws IOException {
        ByteArrayInputStream connection = new ByteArrayInputStream(concat(bytes("3\r\n"), new byte[] {7, 0, (byte) 0x80},
                bytes("\r\n2;name=value\r\n"), new byte[] {(byte) 0xff, 42}, bytes("\r\n0\r\nX-Trailer: t\r\n\r\n"), NEXT));
        ChunkedBody body = new ChunkedBody(connection);

        assertArrayEquals(DATA, readByteByByte(body));
        assertEquals(-1, body.read(), "and stays at its end");
        assertEquals(-1, body.read(new byte[8], 0, 8));
        assertEquals(NEXT.length, connection.available(), "the trailers are read, nothing beyond them");
    }

    @Test
    void theLastChunkEndsABlockReadWithMinusOneNotAnEmptyRead() throws IOException {
        ChunkedBody body = new ChunkedBody(new ByteArrayInputStream(concat(bytes("5\r\n"), DATA, bytes("\r\n0\r\n\r\n"))));
        byte[] buf = new byte[16];

        assertEquals(DATA.length, body.read(buf, 0, 16));
        assertEquals(-1, body.read(buf, 0, 16));
    }

    @Test
    void chunkLinesMayEndInABareLineFeedAndExtensionsAndTrailersMayHoldAnyByte() throws IOException {
        byte[] framed = concat(bytes("5;x=\u0000y\n"), DATA, bytes("\n0\nX-Trailer: a\u0000b\n\n"));

        assertArrayEquals(DATA, new ChunkedBody(new ByteArrayInputStream(framed)).readAllBytes());
    }

    @Test
    void aChunkLineOfExactly4096BytesIsAcceptedOneMoreIsNot() throws IOException {
        String line = "5;" + "e".repeat(4094);
        assertEquals(4096, line.length());
        byte[] ok = concat(bytes(line + "\r\n"), DATA, bytes("\r\n0\r\n\r\n"));
        assertArrayEquals(DATA, new ChunkedBody(new ByteArrayInputStream(ok)).readAllBytes());

        byte[] tooLong = concat(bytes(line + "e\r\n"), DATA, bytes("\r\n0\r\n\r\n"));
        IOException e = assertThrows(IOException.class, () -> new ChunkedBody(new ByteArrayInputStream(tooLong))
                .readAllBytes());
        assertEquals("chunked body line longer than 4096 bytes", e.getMessage());
    }

    @Test
    void aChunkedBodyCutShortOrMisframedIsALostConnection() {
        assertContains(assertThrows(IOException.class, () -> new ChunkedBody(new ByteArrayInputStream(
                concat(bytes("8\r\n"), DATA))).readAllBytes()).getMessage(), "chunked body ends inside a chunk");
        assertContains(assertThrows(IOException.class, () -> new ChunkedBody(new ByteArrayInputStream(
                concat(bytes("5\r\n"), DATA, bytes("\r\n0\r\n")))).readAllBytes()).getMessage(), "chunked body ends early");
        assertContains(assertThrows(IOException.class, () -> new ChunkedBody(new ByteArrayInputStream(
                concat(bytes("4\r\n"), DATA, bytes("\r\n0\r\n\r\n")))).readAllBytes()).getMessage(),
                "malformed chunked body: no line end after a chunk");
        assertContains(assertThrows(IOException.class, () -> new ChunkedBody(new ByteArrayInputStream(
                bytes("-5\r\n"))).readAllBytes()).getMessage(), "malformed chunk size line '-5'");
    }

    private static byte[] readByteByByte(InputStream in) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (int i = 0; i < 100; i++) {
            int c = in.read();
            if (c < 0) {
                return out.toByteArray();
            }
            out.write(c);
        }
        throw new AssertionError("no end after 100 bytes: " + out);
    }
}
