#include <gtest/gtest.h>

#include "core/metrics.hpp"
#include "core/net.hpp"

using namespace mobix;

TEST(Metrics, RendersPrometheusText) {
  Metrics m;
  m.counter("x_total", "Things", "reason=\"a\"").inc(3);
  m.counter("x_total", "Things", "reason=\"b\"").inc();
  m.gauge("y", "Level", [] { return 2.5; });
  auto text = m.render();
  EXPECT_NE(text.find("# TYPE x_total counter"), std::string::npos);
  EXPECT_NE(text.find("x_total{reason=\"a\"} 3"), std::string::npos);
  EXPECT_NE(text.find("x_total{reason=\"b\"} 1"), std::string::npos);
  EXPECT_NE(text.find("y 2.5"), std::string::npos);
  EXPECT_EQ(&m.counter("x_total", "", "reason=\"a\""), &m.counter("x_total", "", "reason=\"a\""));
}

TEST(Net, EndpointsAndCidrs) {
  EXPECT_EQ(parse_endpoint("127.0.0.1:1812")->port, 1812);
  EXPECT_EQ(parse_endpoint("[::1]:53")->host, "::1");
  EXPECT_FALSE(parse_endpoint("host:53"));
  EXPECT_FALSE(parse_endpoint("127.0.0.1:99999"));
  auto c = Cidr::parse("127.0.0.0/8");
  ASSERT_TRUE(c);
  EXPECT_TRUE(c->contains(boost::asio::ip::make_address("127.1.2.3")));
  EXPECT_TRUE(c->contains(boost::asio::ip::make_address("::ffff:127.1.2.3")));
  EXPECT_FALSE(c->contains(boost::asio::ip::make_address("10.0.0.1")));
  EXPECT_TRUE(Cidr::parse("2001:db8::/32")->contains(boost::asio::ip::make_address("2001:db8:1::1")));
  EXPECT_FALSE(Cidr::parse("10.0.0.0/33"));
}
