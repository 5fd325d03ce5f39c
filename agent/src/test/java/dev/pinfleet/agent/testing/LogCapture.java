package dev.pinfleet.agent.testing;

import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.logging.Handler;
import java.util.logging.LogRecord;
import java.util.logging.Logger;

/**
 * The records one java.util.logging logger publishes while the capture is open (for tests that check what the agent
 * logs). Holds the logger strongly: java.util.logging forgets a logger nobody references, and its handlers with it.
 */
public final class LogCapture extends Handler implements AutoCloseable {
    private final Logger logger;
    private final List<LogRecord> records = new CopyOnWriteArrayList<>();

    private LogCapture(String loggerName) {
        this.logger = Logger.getLogger(loggerName);
        logger.addHandler(this);
    }

    /** Captures what the logger named {@code loggerName} (usually a class name) publishes until closed. */
    public static LogCapture of(String loggerName) {
        return new LogCapture(loggerName);
    }

    /** What was published so far. */
    public List<LogRecord> records() {
        return List.copyOf(records);
    }

    /** The messages published so far. */
    public List<String> messages() {
        return records.stream().map(LogRecord::getMessage).toList();
    }

    /** Waits (at most {@code seconds}) until a record was published; true when one was. */
    public boolean awaitAny(int seconds) throws InterruptedException {
        for (int i = 0; i < seconds * 20 && records.isEmpty(); i++) {
            Thread.sleep(50);
        }
        return !records.isEmpty();
    }

    @Override
    public void publish(LogRecord r) {
        records.add(r);
    }

    @Override
    public void flush() {
    }

    @Override
    public void close() {
        logger.removeHandler(this);
    }
}
