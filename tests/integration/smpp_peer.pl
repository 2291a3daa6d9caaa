#!/usr/bin/perl
# An independent SMPP 3.4 implementation for the tests (Debian's libnet-smpp-perl, Net::SMPP).
#   smpp_peer.pl smsc PORT LOG [DEST HEX]
#                                     an SMSC: binds (password "bad" fails with 0x0E), logs each
#                                     submit_sm as "submit_sm to=DEST dcs=N hex=HEX", acks it; with
#                                     DEST and HEX, delivers HEX as binary (dcs 4) to a receiver or
#                                     transceiver once it is bound, logging "deliver_sm_resp status=N"
#   smpp_peer.pl esme HOST PORT SYSTEM_ID PASSWORD DEST HEX
#                                     binds as a transmitter and submits HEX as binary (dcs 4)
use strict;
use warnings;
use Net::SMPP;
$| = 1;

my $mode = shift @ARGV;
if ($mode eq 'smsc') {
    my ($port, $log, $deliver_to, $deliver_hex) = @ARGV;
    my $server = Net::SMPP->new_listen('127.0.0.1', port => $port) or die "listen: $!";
    open(my $out, '>>', $log) or die;
    $out->autoflush(1);
    print "listening $port\n";
    my $n = 0;
    while (my $conn = $server->accept) {
        while (my $pdu = $conn->read_pdu) {
            my $cmd = $pdu->{cmd};
            if ($cmd == 0x00000002 || $cmd == 0x00000009 || $cmd == 0x00000001) {
                my $status = ($pdu->{password} // '') eq 'bad' ? 0x0E : 0;
                my $resp = $cmd == 0x00000002 ? 'bind_transmitter_resp'
                         : $cmd == 0x00000009 ? 'bind_transceiver_resp' : 'bind_receiver_resp';
                $conn->$resp(seq => $pdu->{seq}, status => $status, system_id => 'perlsmsc');
                print $out "bind system_id=$pdu->{system_id} status=$status\n";
                if (defined $deliver_to && $status == 0 && $cmd != 0x00000002) {
                    my $r = $conn->deliver_sm(source_addr => '31600000000', source_addr_ton => 1,
                                              destination_addr => $deliver_to, dest_addr_ton => 1,
                                              dest_addr_npi => 1, data_coding => 4,
                                              short_message => pack('H*', $deliver_hex));
                    print $out "deliver_sm_resp status=" . ($r ? $r->{status} : 'none') . "\n";
                }
            } elsif ($cmd == 0x00000004) {
                $n++;
                print $out "submit_sm to=$pdu->{destination_addr} dcs=$pdu->{data_coding} hex="
                    . unpack('H*', $pdu->{short_message}) . "\n";
                $conn->submit_sm_resp(seq => $pdu->{seq}, message_id => "perl$n");
            } elsif ($cmd == 0x00000015) {
                $conn->enquire_link_resp(seq => $pdu->{seq});
            } elsif ($cmd == 0x00000006) {
                $conn->unbind_resp(seq => $pdu->{seq});
                last;
            }
        }
        close $conn;
    }
} elsif ($mode eq 'esme') {
    my ($host, $port, $id, $pw, $dest, $hex) = @ARGV;
    my $smpp = Net::SMPP->new_transmitter($host, port => $port, system_id => $id, password => $pw)
        or die "bind failed\n";
    my $resp = $smpp->submit_sm(destination_addr => $dest, dest_addr_ton => 1, dest_addr_npi => 1,
                                data_coding => 4, short_message => pack('H*', $hex)) or die "submit failed\n";
    print "submit_sm_resp status=$resp->{status} message_id=$resp->{message_id}\n";
    $smpp->unbind();
    exit($resp->{status} ? 1 : 0);
} else {
    die "usage: smpp_peer.pl smsc|esme ...\n";
}
