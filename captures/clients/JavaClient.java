// A TLS client on Java's JSSE, for captures/generate.sh, which compiles it at run time (javac)
// into its temporary folder. JSSE has no key log, so its captures come without one.
//
// It trusts only CAFILE (a PEM certificate), sends SERVERNAME as SNI and checks the certificate
// against it (endpoint identification HTTPS), sends one line, reads the answer and closes
// (close_notify).
//
// usage: java -cp DIR JavaClient HOST PORT SERVERNAME CAFILE
import java.io.FileInputStream;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.security.KeyStore;
import java.security.cert.CertificateFactory;
import java.util.List;
import javax.net.ssl.SNIHostName;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.TrustManagerFactory;

public class JavaClient {
    public static void main(String[] args) throws Exception {
        String host = args[0], servername = args[2], cafile = args[3];
        int port = Integer.parseInt(args[1]);

        KeyStore trust = KeyStore.getInstance(KeyStore.getDefaultType());
        trust.load(null, null);
        try (InputStream in = new FileInputStream(cafile)) {
            trust.setCertificateEntry("ca", CertificateFactory.getInstance("X.509").generateCertificate(in));
        }
        TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
        tmf.init(trust);
        SSLContext context = SSLContext.getInstance("TLS");
        context.init(null, tmf.getTrustManagers(), null);

        try (SSLSocket socket = (SSLSocket) context.getSocketFactory().createSocket(host, port)) {
            socket.setSoTimeout(3000);
            SSLParameters params = socket.getSSLParameters();
            params.setServerNames(List.of(new SNIHostName(servername)));
            params.setEndpointIdentificationAlgorithm("HTTPS");
            socket.setSSLParameters(params);
            socket.startHandshake();
            OutputStream out = socket.getOutputStream();
            out.write("hello from java\n".getBytes(StandardCharsets.US_ASCII));
            out.flush();
            socket.getInputStream().read(new byte[4096]);
        } catch (Exception e) {
            System.err.println("JavaClient: " + e);
            System.exit(1);
        }
    }
}
